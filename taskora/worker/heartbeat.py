"""Heartbeat: keep the locks of the jobs a worker holds, and learn of their cancels and losses."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .reconnect import once
from .runtime import lock_ttl_ms

if TYPE_CHECKING:
    from ..adapters.base import Adapter, ClaimedJob
    from ..task import Task
    from .held import HeldJobs
    from .runtime import JobRuntime


class Heartbeat:
    """Every third of the shortest stall interval, extends the locks of the running jobs and of those claimed
    ahead, in one call per lock length.

    Invariant: a held job's lock never lapses while this worker lives and reaches Redis; the lock's status
    comes back to the job (a cancel aborts it, a lost lock drops its outcome), and a job claimed ahead that
    was cancelled never starts, one that was lost is no longer held.
    """

    def __init__(self, adapter: Adapter, tasks: list[Task[Any, Any]], held: HeldJobs,
                 task_of: Callable[[str], Task[Any, Any]], address: str,
                 on_beat: Callable[[], None]) -> None:  # fmt: skip
        self.adapter = adapter
        self.tasks = tasks
        self.held = held
        self.task_of = task_of
        self.address = address
        self.on_beat = on_beat

    def run(self, cold: threading.Event) -> None:
        interval = min((t.options.stall.interval for t in self.tasks), default=30.0) / 3
        while not cold.wait(interval):
            runtimes, reserved = self.held.snapshot()
            self._extend_running(runtimes)
            if reserved:
                self._extend_reserved(reserved)
            self.on_beat()

    def _extend_running(self, runtimes: list[JobRuntime]) -> None:
        by_ttl: dict[int, list[JobRuntime]] = {}
        for runtime in runtimes:
            by_ttl.setdefault(lock_ttl_ms(runtime.task), []).append(runtime)
        for ttl, group in by_ttl.items():
            statuses = once(self.address, self.adapter.extend_locks, [r.claimed for r in group], ttl) or []
            for runtime, status in zip(group, statuses, strict=False):
                runtime.apply_lock_status(status)

    def _extend_reserved(self, jobs: list[ClaimedJob]) -> None:
        """Keep the locks of jobs claimed ahead or waiting for the budget (budget.py), in one call per lock
        length; note a cancel for when they start, drop one that was lost."""
        by_ttl: dict[int, list[ClaimedJob]] = {}
        for job in jobs:
            by_ttl.setdefault(lock_ttl_ms(self.task_of(job.task)), []).append(job)
        for ttl, group in by_ttl.items():
            statuses = once(self.address, self.adapter.extend_locks, group, ttl) or []
            with self.held.lock:
                for job, status in zip(group, statuses, strict=False):
                    if status == "cancelled":
                        self.held.note_cancel(job.id)
                    elif status == "lost":
                        self.held.drop_lost(job.id)
