"""The scheduler's pure half: schedule specs, next-run arithmetic, missed-run policy, stored shape.

Nothing here touches Redis, so the leader loop (which runs the Lua tick), the schedule manager and
Celery's beat translation share one tested definition of *when* a schedule fires.
"""

from __future__ import annotations

from .spec import (
    CATCH_UP_HARD_CAP,
    DEFAULT_TIMEZONE,
    CronSpec,
    CrontabSpec,
    DueRuns,
    IntervalSpec,
    MissedRunPolicy,
    ScheduleConfig,
    ScheduleSpec,
    make_spec,
    plan_due_runs,
    spec_from_wire,
)

# The leader loop and the manager import the app's adapter layer; load them only when used
# (``from taskora.scheduler.runner import SchedulerRunner``), so the pure half stays import-light.

__all__ = [
    "CATCH_UP_HARD_CAP",
    "DEFAULT_TIMEZONE",
    "CronSpec",
    "CrontabSpec",
    "DueRuns",
    "IntervalSpec",
    "MissedRunPolicy",
    "ScheduleConfig",
    "ScheduleSpec",
    "make_spec",
    "plan_due_runs",
    "spec_from_wire",
]
