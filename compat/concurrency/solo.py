"""``celery.concurrency.solo``: one task at a time, in the worker's own process."""

from __future__ import annotations

from .base import BasePool

__all__ = ["TaskPool"]


class TaskPool(BasePool):
    """The ``solo`` pool."""

    taskora_pool = "solo"
