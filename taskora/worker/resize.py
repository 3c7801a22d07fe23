"""Live pool resizing of an in-process Worker: ``pool_grow`` adds slot threads, ``pool_shrink`` retires some.

A slot is never stopped in the middle of a job: shrinking only asks ``n`` slots of each task to leave, and a
slot leaves when it holds nothing (between jobs, or woken from its idle wait). A slot asked to leave claims no
next job with its acknowledgement, so a busy slot under a long backlog still leaves after its current job.
"""

from __future__ import annotations

import threading

from ..errors import ConfigurationError


def slot_delta(n: object, what: str) -> int:
    """``n`` as a positive count of slots (Celery's ``pool_grow``/``pool_shrink`` argument, default 1)."""
    if isinstance(n, str) and n.strip().isdigit():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigurationError(f"{what}: n must be a positive whole number of slots, got {n!r}")
    return n


class Retirements:
    """How many slots of each task were asked to leave and have not yet: a slot between jobs ``take``s one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, int] = {}

    def add(self, task: str, n: int) -> None:
        with self._lock:
            self._pending[task] = self._pending.get(task, 0) + n

    def pending(self, task: str) -> bool:
        """True while some slot of ``task`` should leave (read without the lock: a hint for skipping a claim)."""
        return self._pending.get(task, 0) > 0

    def take(self, task: str) -> bool:
        """The calling slot leaves when this returns True (each pending retirement is taken once)."""
        with self._lock:
            left = self._pending.get(task, 0)
            if left <= 0:
                return False
            self._pending[task] = left - 1
            return True
