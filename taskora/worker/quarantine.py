"""Quarantine: a job that was running when its process died runs alone in its process the next time.

When a process dies running several jobs, which of them killed it is unknown, so each is handed back as
lost (``lostCount``), not charged an attempt. Left at that, a poison job keeps killing the jobs beside it,
and a healthy job that keeps meeting poison ones ends past ``stall.max_lost``. So a job with a lost run
(``lostCount`` > 0) waits until nothing else runs in its process and keeps others from starting while it
runs: if it kills the process again it died alone, and that death is charged to it as a failed attempt
(the prefork supervisor sees a single running job). A healthy job is counted lost at most once per poison
job it meets, the first time that job runs.

A suspect never waits longer than ``WAIT_ALONE_S``, nor a third of its lock's lease (nothing extends the
lock of a job that has not started), for the jobs beside it to end (a handler may run for hours): past
that it runs beside them, as before quarantine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Longest a suspect job waits for the jobs running beside it to end before it runs anyway.
WAIT_ALONE_S = 10.0


def is_suspect(fields: dict[str, Any]) -> bool:
    """Whether a job was handed back from a process that died while running it."""
    try:
        return int(fields.get("lostCount") or 0) > 0
    except (TypeError, ValueError):
        return False


class Quarantine:
    """Admits jobs to run in this process: any number of ordinary ones together, a suspect one alone."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running = 0
        self._alone = False
        self._suspects_waiting = 0

    @contextmanager
    def admit(self, fields: dict[str, Any], lock_ttl_s: float) -> Iterator[None]:
        """Hold the job's place for as long as it runs (and is reported running)."""
        wait_s = min(WAIT_ALONE_S, lock_ttl_s / 3)
        alone = self._enter_alone(wait_s) if is_suspect(fields) else self._enter(wait_s)
        try:
            yield
        finally:
            self._leave(alone)

    def _enter(self, wait_s: float) -> bool:
        """An ordinary job: waits only while a suspect runs or is about to (so suspects are not starved)."""
        with self._changed:
            deadline = time.monotonic() + wait_s
            while self._alone or self._suspects_waiting:
                if not self._changed.wait(deadline - time.monotonic()):
                    break  # a suspect outlived its wait: run beside it, as it would beside us
            self._running += 1
            return False

    def _enter_alone(self, wait_s: float) -> bool:
        with self._changed:
            self._suspects_waiting += 1
            deadline = time.monotonic() + wait_s
            while (self._running or self._alone) and self._changed.wait(max(0.0, deadline - time.monotonic())):
                pass
            self._suspects_waiting -= 1
            alone = not self._running and not self._alone
            self._alone = self._alone or alone
            self._running += 1
            return alone

    def _leave(self, alone: bool) -> None:
        with self._changed:
            self._running -= 1
            if alone:
                self._alone = False
            self._changed.notify_all()
