"""Virtual time for the TestRunner: step the clock through every due moment, firing what falls due.

``advance_time("1h")`` does not jump an hour at once: it moves the clock to each moment something is
due before the target (a delayed job or retry, a schedule's next run, a registered TimedWork such as a
collect window) and, at each, runs the scheduler tick, the timed work and every job due. So an
every-10-minutes schedule fires six times in an hour, a retry scheduled during the hour runs at its
time, and a job whose TTL passed by the end is found expired.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..clock import VirtualClock, timed_work
from ..errors import ConfigurationError
from ..scheduler.runner import SchedulerRunner
from ..workflow.hooks import sweep_expired

if TYPE_CHECKING:
    from ..app import Taskora

#: Most due moments one ``advance_time`` steps through (a 1-second schedule over a day is 86,400).
MAX_STEPS = 200_000


class Timeline:
    """The runner's clock and everything that falls due on it."""

    def __init__(self, app: Taskora, clock: VirtualClock, process_all: Any) -> None:
        self.app = app
        self.clock = clock
        self._process_all = process_all
        self._scheduler: SchedulerRunner | None = None

    def next_due(self, after: int | None = None) -> int | None:
        """The earliest moment (after ``after``) anything is due: delayed jobs, schedules, timed work.

        Something due at or before ``after`` that the last step did not run (e.g. held back by a rate
        limit) is left out, so it cannot pin the clock.
        """
        adapter = self.app.adapter
        moments = [adapter.next_due_ms(name) for name in self.app.tasks]
        moments.append(adapter.schedules_earliest())
        moments.extend(work.next_due(self.app) for work in timed_work())
        pending = [m for m in moments if m is not None and (after is None or m > after)]
        return min(pending) if pending else None

    def advance(self, duration_ms: int) -> int:
        """Step to every due moment up to ``now + duration_ms``; returns how many jobs ran."""
        if duration_ms < 0:
            raise ConfigurationError(f"advance_time: the clock only moves forward, got {duration_ms} ms")
        target = self.clock.now_ms() + duration_ms
        self.begin()
        ran = 0
        for _ in range(MAX_STEPS):
            due = self.next_due(after=self.clock.now_ms())
            step = target if due is None or due > target else due
            ran += self.step_to(step)
            if step >= target:
                return ran
        raise ConfigurationError(f"advance_time: more than {MAX_STEPS} due moments before the target; "
                                 f"advance in smaller steps")

    def begin(self) -> None:
        """Store the declared schedules (a new one first fires one interval after now) before time moves."""
        self.scheduler().tick_once()
        self.app.schedules.sync()

    def step_to(self, moment: int) -> int:
        """Set the clock to ``moment`` (never back) and run everything due then."""
        self.clock.set(max(moment, self.clock.now_ms()))
        return self.run_due()

    def run_due(self) -> int:
        """Fire due schedules, timed work and workflow deadlines, then run every job due now."""
        self.scheduler().tick_once()
        for work in timed_work():
            work.run_due(self.app)
        sweep_expired(self.app)
        return int(self._process_all())

    def scheduler(self) -> SchedulerRunner:
        if self._scheduler is None:
            self._scheduler = SchedulerRunner(self.app)
        return self._scheduler

    def reset(self) -> None:
        """Forget leadership (the store was emptied); the next tick takes the lock and syncs again."""
        self._scheduler = None
