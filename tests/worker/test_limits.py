"""Soft and hard time limits inside one process (the subprocess suites cover the pools)."""

from __future__ import annotations

import threading
import time

import pytest

from taskora.errors import ConfigurationError, SoftTimeLimitExceeded, TimeLimitExceeded
from taskora.worker.limits import SoftLimit, TimeLimitMiddleware, TimeLimits, limits_for


def _busy(seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return "finished"


def test_soft_limit_raises_in_the_armed_thread() -> None:
    guard = SoftLimit(0.1, threading.get_ident())
    with pytest.raises(SoftTimeLimitExceeded):
        try:
            _busy(5)
        finally:
            guard.disarm()


def test_disarmed_soft_limit_never_fires() -> None:
    guard = SoftLimit(0.05, threading.get_ident())
    guard.disarm()
    assert _busy(0.2) == "finished"


def test_task_limits_come_from_extra_over_defaults(make_app) -> None:
    app = make_app()
    task = app.register_task("t", lambda d: d, allowed_extra=("soft_time_limit", "time_limit"), time_limit=3)
    plain = app.register_task("p", lambda d: d)
    assert (limits_for(task, 1.0, 9.0).soft, limits_for(task, 1.0, 9.0).hard) == (1.0, 3.0)
    assert limits_for(plain).hard is None
    bad = app.register_task("b", lambda d: d, allowed_extra=("time_limit",), time_limit="soon")
    with pytest.raises(ConfigurationError, match="b: time_limit must be a positive number"):
        limits_for(bad)


def test_middleware_limits_a_worker_job(make_app) -> None:
    # Given an in-process worker with the limits middleware (threads pool behaviour)
    app = make_app()
    app.register_task("hang", lambda d: _busy(30), allowed_extra=("time_limit",), time_limit=0.3)
    app.register_task("nap", lambda d: _busy(30), allowed_extra=("soft_time_limit",), soft_time_limit=0.2)
    app.middleware.insert(0, TimeLimitMiddleware(app))
    app.start()
    # Then the hard limit fails the job and the soft one surfaces as the handler's error
    with pytest.raises(Exception, match=TimeLimitExceeded.__name__):
        app.dispatch("hang", None).result(timeout=10)
    with pytest.raises(Exception, match=SoftTimeLimitExceeded.__name__):
        app.dispatch("nap", None).result(timeout=10)


def test_the_middleware_steps_aside_only_for_jobs_no_limit_covers(make_app) -> None:
    # Given a limits middleware without defaults, as the CLI installs it when no flag is given
    app = make_app()
    plain = app.register_task("plain", lambda d: d)
    limited = app.register_task("limited", lambda d: d, allowed_extra=("soft_time_limit",), soft_time_limit=5)
    middleware = TimeLimitMiddleware(app)
    # Then it has nothing to do for a plain job, so the executor skips it (no context, no chain) ...
    assert not middleware.applies_to(plain, {"data": b"1"})
    # ... but a task limit, a per-job limit (Celery's apply_async(time_limit=)) or a default still apply
    assert middleware.applies_to(limited, {})
    assert middleware.applies_to(plain, {"timeLimit": b"2"})
    assert TimeLimitMiddleware(app, soft=3).applies_to(plain, {})
    # ... as does a limit set live (the time_limit control command), while an empty job field sets none
    assert TimeLimitMiddleware(app, overrides={"plain": TimeLimits(soft=1.0)}).applies_to(plain, {})
    assert not middleware.applies_to(plain, {"timeLimit": "", "softTimeLimit": ""})
    # and a hard limit a supervisor enforces (prefork) leaves nothing for the middleware to do
    assert not TimeLimitMiddleware(app, hard=3, enforce_hard=False).applies_to(plain, {})


def test_a_per_job_limit_is_enforced_on_an_otherwise_unlimited_task(make_app) -> None:
    app = make_app()
    app.register_task("sleepy", lambda d: _busy(30))
    app.middleware.insert(0, TimeLimitMiddleware(app))
    app.start()
    with pytest.raises(Exception, match=SoftTimeLimitExceeded.__name__):
        app.dispatch("sleepy", None, meta={"softTimeLimit": "0.2"}).result(timeout=10)
