"""``celery.concurrency``: the worker pool classes a Celery worker names (``pool_cls``), by alias.

taskora's worker runs its own pools (``solo``, ``threads``, ``prefork``); these classes stand for them where
Celery code reads a worker's ``pool_cls`` as a class (its Django fixup checks ``pool_cls.__module__`` for
``prefork``, because forked children must not share the parent's database sockets).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ..exceptions import ImproperlyConfigured
from .base import BasePool

__all__ = ["ALIASES", "BasePool", "get_available_pool_names", "get_implementation"]

#: Celery's pool aliases that taskora runs, and the class standing for each.
ALIASES = {
    "prefork": "taskora.compat.concurrency.prefork:TaskPool",
    "solo": "taskora.compat.concurrency.solo:TaskPool",
    "threads": "taskora.compat.concurrency.thread:TaskPool",
}


def get_available_pool_names() -> tuple[str, ...]:
    return tuple(ALIASES)


def get_implementation(cls: Any) -> type[BasePool]:
    """The pool class for an alias (``'solo'``, ``'threads'``, ``'prefork'``) or a pool class given as is."""
    if isinstance(cls, type) and issubclass(cls, BasePool):
        return cls
    name = str(cls).lower()
    if name == "processes":  # Celery's other name for prefork
        name = "prefork"
    if name not in ALIASES:
        raise ImproperlyConfigured(
            f"worker pool {cls!r} is not one taskora runs; choose one of {', '.join(ALIASES)}")
    module, _, attr = ALIASES[name].partition(":")
    pool: type[BasePool] = getattr(import_module(module), attr)
    return pool
