"""HeldJobs: what one worker process holds right now, shared by its slots, heartbeat and listeners."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.base import ClaimedJob
    from .runtime import JobRuntime


class HeldJobs:
    """The jobs a worker holds: running (``active``), claimed ahead and not started (``reserved``), and the
    cancels that came for jobs not running here (``cancel_before_start``, oldest first).

    Invariant: all three change only under ``lock``; whoever pops a job from ``active`` or ``reserved`` owns it
    (finishes it, or hands it back), so a job is never finished twice nor left behind.
    """

    #: How many cancels of jobs not running here a worker remembers.
    CANCELS_REMEMBERED = 1000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: dict[str, JobRuntime] = {}
        self.reserved: dict[str, ClaimedJob] = {}
        self.cancel_before_start: dict[str, None] = {}
        #: Called (with ``lock`` held) when a job not running here is cancelled or its lock lost: wakes the jobs
        #: waiting in line to run (budget.py), so such a reserved job leaves the line at once.
        self.wake_waiters: Callable[[], None] | None = None

    def note_cancel(self, job_id: str) -> None:
        """Remember a cancel for a job that has not started here (call with ``lock`` held)."""
        self.cancel_before_start[job_id] = None
        if len(self.cancel_before_start) > self.CANCELS_REMEMBERED:
            del self.cancel_before_start[next(iter(self.cancel_before_start))]
        if self.wake_waiters is not None:
            self.wake_waiters()

    def drop_lost(self, job_id: str) -> None:
        """Forget a reserved job whose lock was lost (stall recovery returns it); call with ``lock`` held."""
        if self.reserved.pop(job_id, None) is not None and self.wake_waiters is not None:
            self.wake_waiters()

    def snapshot(self) -> tuple[list[JobRuntime], list[ClaimedJob]]:
        """The running runtimes and the jobs held ahead, as lists the caller may walk without the lock."""
        with self.lock:
            return list(self.active.values()), list(self.reserved.values())
