"""Waiting on an empty queue, the same for a slot of its own and for a feeder's watching slot: block
on the task's marker until a job may be claimable, the next delayed job falls due, or
``MAX_BLOCK_S`` passes (which also bounds how late a stop is seen), and claim as the wait ends.

Redis ends a blocking command's timeout only at its next cron tick (every 100 ms at the default
``hz 10``), so a wait timed to end when a delayed job falls due would end up to 100 ms late, and the
job start as late. A worker's ``DueAlarm`` wakes the marker itself at that moment instead.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ..adapters.base import CONNECTION_ERRORS
from .reconnect import OUTAGE, address_of

if TYPE_CHECKING:
    from ..adapters.base import Adapter, ClaimResult

log = logging.getLogger("taskora.worker")

#: Longest one wait blocks before the caller looks again.
MAX_BLOCK_S = 5.0


def wait_timeout(adapter: Adapter, next_due_ms: int | None) -> float:
    """How long to block: until ``next_due_ms`` (epoch ms) when a delayed job is due sooner than ``MAX_BLOCK_S``."""
    if next_due_ms is None:
        return MAX_BLOCK_S
    return min(MAX_BLOCK_S, max(0.0, (next_due_ms - adapter.now_ms()) / 1000))


def wait_then_claim(adapter: Adapter, task: str, next_due_ms: int | None, token: str, lock_ttl_ms: int,
                    alarm: DueAlarm | None = None, worker: str | None = None) -> ClaimResult:  # fmt: skip
    """One slot's wait: the claim runs in Redis as soon as the wait ends (at the latest when ``alarm``
    wakes the marker for the delayed job due next, or ``worker``'s own stop wakes it)."""
    timeout = wait_timeout(adapter, next_due_ms)
    if alarm is not None and next_due_ms is not None and timeout < MAX_BLOCK_S:
        alarm.expect(task, next_due_ms)
    return adapter.wait_then_claim(task, timeout, token, lock_ttl_ms, worker)


class DueAlarm:
    """Wakes a task's marker when the delayed job its idle slots wait for falls due (one thread per
    worker). Slots say what they expect; each task keeps only its earliest time. A wake that finds
    nothing to claim (another worker was quicker) costs one empty claim, nothing more."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self._due_ms: dict[str, int] = {}
        self._changed = threading.Condition()
        self._closed = False

    def expect(self, task: str, due_ms: int) -> None:
        with self._changed:
            current = self._due_ms.get(task)
            if current is None or due_ms < current:
                self._due_ms[task] = due_ms
                self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()

    def run(self) -> None:
        while (task := self._next_due()) is not None:
            try:
                self.adapter.wake_workers(task, 1)
            except CONNECTION_ERRORS as exc:  # the waits still end on their own timeout, only later
                OUTAGE.lost(address_of(self.adapter), exc, f"waking {task}'s idle slots for a delayed job")

    def _next_due(self) -> str | None:
        """Block until some task's time comes and return it (forgotten: slots that wait again say so again);
        None once closed."""
        with self._changed:
            while not self._closed:
                if not self._due_ms:
                    self._changed.wait()
                    continue
                task, due_ms = min(self._due_ms.items(), key=lambda item: item[1])
                wait_s = (due_ms + 1 - self.adapter.now_ms()) / 1000  # +1: the claim promotes jobs due <= now
                if wait_s <= 0:
                    del self._due_ms[task]
                    return task
                self._changed.wait(wait_s)
            return None
