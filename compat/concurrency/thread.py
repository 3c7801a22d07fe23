"""``celery.concurrency.thread``: tasks run in threads of the worker's process."""

from __future__ import annotations

from .base import BasePool

__all__ = ["TaskPool"]


class TaskPool(BasePool):
    """The ``threads`` pool."""

    taskora_pool = "threads"
