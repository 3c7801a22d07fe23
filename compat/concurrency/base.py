"""``celery.concurrency.base.BasePool``: what a pool class says about the pool it stands for."""

from __future__ import annotations

__all__ = ["BasePool"]


class BasePool:
    """A worker pool kind: ``taskora_pool`` is the name taskora's worker runs it under."""

    #: The pool name taskora's worker takes (``WorkerSettings.pool``).
    taskora_pool = "solo"
    #: Celery's flag: the pool's shutdown may run inside a signal handler.
    signal_safe = True
    #: Whether the pool's work runs in child processes (Celery's ``is_green`` is False for all of these).
    uses_processes = False
    is_green = False

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__}>"
