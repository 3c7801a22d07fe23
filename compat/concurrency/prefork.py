"""``celery.concurrency.prefork``: tasks run in forked child processes."""

from __future__ import annotations

from .base import BasePool

__all__ = ["TaskPool"]


class TaskPool(BasePool):
    """The ``prefork`` pool: its children are forked from the worker, so they inherit its open sockets."""

    taskora_pool = "prefork"
    uses_processes = True
