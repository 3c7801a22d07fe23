"""Maintenance: the stall sweep, retention and workflow expiry a worker runs beside its slots."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from .. import version_handoff
from ..clock import timed_work
from ..workflow import hooks as workflow_hooks
from .reconnect import once, once_silent_on_success

if TYPE_CHECKING:
    from ..app import Taskora
    from ..task import Task

log = logging.getLogger("taskora.worker")

#: How often retention runs: at most about a second of finished jobs accumulates beyond the limits.
TRIM_EVERY_S = 1.0


class Maintenance:
    """Sweeps each task for stalled jobs once per stall interval and applies retention about every second.

    Invariant: each round is bounded (``TRIM_BUDGET_S`` per task), a cold stop ends it, and Redis being
    unreachable only skips a round (reported once per outage, reconnect.py).
    """

    #: Jobs one trim call deletes per state at most, and the longest a worker's maintenance spends trimming one
    #: task per round, calling again while each call deleted a whole batch. Redis runs nothing else while a call
    #: runs: 1,000 jobs held it about 2.5 ms, several times a second at a few thousand finished jobs a second,
    #: which every client of that Redis met as a latency tail; 100 hold it about 0.25 ms, for the same CPU per job
    #: (bench/README.md, "The retention trim held Redis").
    TRIM_BATCH = 100
    TRIM_BUDGET_S = 2.0

    def __init__(self, app: Taskora, tasks: list[Task[Any, Any]], cold: threading.Event, address: str) -> None:
        self.app = app
        self.adapter = app.adapter
        self.tasks = tasks
        self.cold = cold
        self.address = address
        #: Jobs parked for this worker's versions (version_handoff.py): looked for each round, claimed by the slots.
        self.parked = version_handoff.ParkedJobs(self.adapter)

    def run(self) -> None:
        last_sweep: dict[str, float] = {}
        while not self.cold.wait(min(TRIM_EVERY_S, self._shortest_stall_interval())):
            self._round(last_sweep)

    def _round(self, last_sweep: dict[str, float]) -> None:
        """Sweep and trim each task, then the rest. A stop (``cold``) ends the round before the next task, or before
        the round's last calls: against a Redis gone silent each call waits out its timeout, and a round of many
        tasks held a worker's stop seconds."""
        now = time.monotonic()
        for task in self.tasks:
            if self.cold.is_set():
                return
            if now - last_sweep.get(task.name, 0.0) >= task.options.stall.interval:
                last_sweep[task.name] = now
                once(self.address, self.adapter.stall_sweep, task.name, task.options.stall.max_count)
            once(self.address, self.trim, task)
        if self.cold.is_set():
            return
        once(self.address, workflow_hooks.sweep_expired, self.app)
        once_silent_on_success(self.address, self.parked.look, self.tasks)  # jobs parked for our versions
        self.run_timed_work()

    def run_timed_work(self) -> None:
        """Fire what registered time-based features (taskora.clock.TimedWork) have due; one failing is logged."""
        for work in timed_work():
            try:
                once_silent_on_success(self.address, work.run_due, self.app)
            except Exception:
                log.exception("maintenance: timed work %r failed", work.name)

    def _shortest_stall_interval(self) -> float:
        return min((t.options.stall.interval for t in self.tasks), default=30.0)

    def trim(self, task: Task[Any, Any]) -> int:
        """Apply retention to ``task``: as many batches as it takes to catch up (within the budget), so a task
        that finishes thousands of jobs a second keeps its finished records within the limits."""
        r = self.app.retention
        deadline, removed = time.monotonic() + self.TRIM_BUDGET_S, 0
        while not self.cold.is_set():
            batch = self.adapter.trim(task.name, completed_age_ms=int(r.completed_age * 1000),
                                      completed_count=r.completed_count, failed_age_ms=int(r.failed_age * 1000),
                                      failed_count=r.failed_count, batch=self.TRIM_BATCH)
            removed += batch
            if batch < self.TRIM_BATCH or time.monotonic() > deadline:
                return removed
        return removed
