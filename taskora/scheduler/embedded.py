"""The scheduler that ``app.start()`` runs beside its worker, as taskora's ``start()`` does.

Every started app runs a SchedulerRunner; they share one leader lock (``taskora:schedules:lock``), so
however many processes or apps start, each due run fires once. ``app.start(scheduler=False)`` opts out;
the default (``None``) runs it when the app declares a schedule or has ``scheduler=`` settings, so an
app without schedules costs no thread and no lock traffic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..app import Taskora
    from .runner import SchedulerRunner


def wants_scheduler(app: Taskora, scheduler: bool | None) -> bool:
    """Whether ``app.start(scheduler=...)`` runs a scheduler: True/False say so; None decides by declarations."""
    if scheduler is not None and not isinstance(scheduler, bool):
        raise ConfigurationError(f"start: scheduler must be True, False or None, got {scheduler!r}")
    if scheduler is not None:
        return scheduler
    return bool(app.scheduler_options) or bool(app.schedules.declared())


def prepare_scheduler(app: Taskora, scheduler: bool | None) -> SchedulerRunner | None:
    """A runner for ``app`` with its declarations checked (not started), or None when not wanted.

    Built before the worker starts, so a schedule naming an unknown task or a bad ``scheduler=`` setting
    fails ``start()`` with nothing running.
    """
    if not wants_scheduler(app, scheduler):
        return None
    from .runner import SchedulerRunner

    runner = SchedulerRunner(app)
    app.schedules.validate()
    return runner
