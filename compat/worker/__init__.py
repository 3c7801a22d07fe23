"""Celery's ``celery.worker`` package: the worker's process state, its remote-control commands, and
``WorkController`` (``app.Worker``), imported on first use (a client importing ``worker.state`` does not load
the worker's pools)."""

from __future__ import annotations

from typing import Any

__all__ = ["WorkController"]


def __getattr__(name: str) -> Any:
    if name == "WorkController":
        from .worker import WorkController

        return WorkController
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
