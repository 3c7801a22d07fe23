"""Time limits: the soft one raises inside the handler, the hard one ends the attempt for good.

Soft limit: ``SoftTimeLimitExceeded`` is raised inside the handler, so it can catch it and clean up. On the
main thread of a prefork child that runs one job at a time (main_thread.py) a signal raises it, at once even
inside a blocking call (``time.sleep(60)``, a socket read), as Celery's prefork pool does. Elsewhere it is
raised asynchronously in the handler's thread (``PyThreadState_SetAsyncExc``): Python delivers that between
bytecodes, so a handler blocked inside one long C call sees it only when that call returns.

Hard limit: in a prefork child the supervisor kills the process (``supervisor.py``); with threads
the attempt fails with ``TimeLimitExceeded`` at once and its thread is abandoned (a thread cannot be
killed; it is told to stop through ``ctx.signal`` and whatever it returns later is dropped).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, SoftTimeLimitExceeded, TimeLimitExceeded
from . import handler_threads, main_thread
from .abandoned import keep_place_until_done
from .alarms import set_alarm
from .interrupt import raise_in_thread

if TYPE_CHECKING:
    from ..middleware import MiddlewareContext
    from ..task import Task
    from .runtime import JobRuntime


#: Optional job-hash fields (given at dispatch through ``meta=``) overriding a task's limits for one job, in
#: seconds; front-ends with per-call limits (Celery's ``apply_async(time_limit=)``) write them.
JOB_SOFT_FIELD = "softTimeLimit"
JOB_HARD_FIELD = "timeLimit"


@dataclass(frozen=True)
class TimeLimits:
    """Seconds, or None for no limit."""

    soft: float | None = None
    hard: float | None = None


def _seconds(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigurationError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


def seconds_or_none(value: Any, what: str) -> float | None:
    """A limit given over the control channel (``time_limit TASK SOFT [HARD]``): seconds, text of seconds, or
    None/0 for none."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigurationError(f"{what} must be a number of seconds, got {value!r}") from None
    return None if value is None or value == 0 else _seconds(value, what)


def limits_for(task: Task[Any, Any], default_soft: float | None = None, default_hard: float | None = None,
               job_meta: Callable[[str], Any] | None = None,
               override: TimeLimits | None = None) -> TimeLimits:  # fmt: skip
    """A task's limits: its own ``soft_time_limit``/``time_limit`` (kept in ``options.extra``, or as set live by
    the ``time_limit`` control command: ``override``) over the defaults, and over both, the job's own limits
    (``JOB_*_FIELD`` job-hash fields read through ``job_meta``)."""
    extra = task.options.extra
    soft = extra.get("soft_time_limit", default_soft) if override is None else (override.soft or default_soft)
    hard = extra.get("time_limit", default_hard) if override is None else (override.hard or default_hard)
    if job_meta is not None:
        soft = _job_seconds(job_meta(JOB_SOFT_FIELD), soft)
        hard = _job_seconds(job_meta(JOB_HARD_FIELD), hard)
    if soft is None and hard is None:
        return NO_LIMITS  # the common case, read up to three times per job: nothing to check or build
    return TimeLimits(_seconds(soft, f"{task.name}: soft_time_limit"), _seconds(hard, f"{task.name}: time_limit"))


#: What ``limits_for`` returns when nothing sets a limit.
NO_LIMITS = TimeLimits()


def _job_seconds(raw: Any, fallback: Any) -> Any:
    if raw is None or raw == "":
        return fallback
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        return float(text)
    except ValueError:
        return text  # _seconds names the bad value


class SoftLimit:
    """Arms a timer that raises SoftTimeLimitExceeded in one thread; ``disarm`` makes sure it cannot land later."""

    def __init__(self, seconds: float, ident: int) -> None:
        self._ident = ident
        self._lock = threading.Lock()
        self._armed = True
        self._fired = False
        self._alarm = set_alarm(seconds, self._fire)

    def _fire(self) -> None:
        with self._lock:
            if self._armed:
                self._fired = raise_in_thread(self._ident, SoftTimeLimitExceeded)

    def disarm(self) -> None:
        with self._lock:
            self._armed = False
            self._alarm.cancel()
            if self._fired:  # raised but maybe not delivered yet: never let it escape into the worker
                raise_in_thread(self._ident, None)


class TimeLimitMiddleware:
    """App middleware enforcing per-task limits; ``enforce_hard=False`` where a supervisor kills instead."""

    def __init__(self, app: Any, *, soft: float | None = None, hard: float | None = None,
                 enforce_hard: bool = True, overrides: dict[str, TimeLimits] | None = None) -> None:  # fmt: skip
        self.app = app
        #: Limits set live per task name (the ``time_limit`` control command, live_ops.py); read on each job.
        self.overrides = overrides if overrides is not None else {}
        self.default_soft = _seconds(soft, "--soft-time-limit")
        self.default_hard = _seconds(hard, "--time-limit")
        self.enforce_hard = enforce_hard

    def limits(self, task: Task[Any, Any], job_meta: Callable[[str], Any] | None = None) -> TimeLimits:
        return limits_for(task, self.default_soft, self.default_hard, job_meta, self.overrides.get(task.name))

    def applies_to(self, task: Task[Any, Any], fields: dict[str, Any]) -> bool:
        """False when no limit covers this job: the executor then skips this middleware altogether."""
        limits = self.limits(task, fields.get)
        return limits.soft is not None or (limits.hard is not None and self.enforce_hard)

    def __call__(self, mctx: MiddlewareContext, call_next: Callable[[], Any]) -> Any:
        limits = self.limits(self.app.get_task(mctx.task), mctx.ctx.meta)
        if limits.hard is not None and self.enforce_hard:
            return self._with_hard_limit(mctx, call_next, limits)
        return _with_soft_limit(call_next, limits.soft)

    def _with_hard_limit(self, mctx: MiddlewareContext, call_next: Callable[[], Any], limits: TimeLimits) -> Any:
        run = handler_threads.start(lambda: _with_soft_limit(call_next, limits.soft), f"taskora-limited-{mctx.id}")
        done = run.within(limits.hard)
        if done is not None:
            mctx.ctx.signal.abort("timeout")
            keep_place_until_done(mctx.id, done, f"{mctx.task} job {mctx.id}")  # its budget place (abandoned.py)
            raise TimeLimitExceeded(f"{mctx.task} job {mctx.id} exceeded its hard time limit of {limits.hard:g}s")
        return run.outcome()


def _with_soft_limit(call_next: Callable[[], Any], soft: float | None) -> Any:
    if soft is None:
        return call_next()
    guard = main_thread.soft_limit_here(soft) or SoftLimit(soft, threading.get_ident())
    try:
        return call_next()
    finally:
        guard.disarm()


def soft_limited(app: Any, runtime: JobRuntime) -> bool:
    """Whether a soft time limit covers this job, as the app's installed ``TimeLimitMiddleware`` sees it."""
    for middleware in app.middleware:
        if isinstance(middleware, TimeLimitMiddleware):
            return middleware.limits(runtime.task, runtime.fields.get).soft is not None
    return False


def install(middleware: TimeLimitMiddleware) -> None:
    """Put the limits outermost in the app's chain (they must cover every other middleware too)."""
    middleware.app.middleware.insert(0, middleware)
