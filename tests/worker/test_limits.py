"""Soft and hard time limits inside one process (the subprocess suites cover the pools)."""

from __future__ import annotations

import threading
import time

import pytest

from taskora.errors import ConfigurationError, SoftTimeLimitExceeded, TimeLimitExceeded
from taskora.worker.limits import SoftLimit, TimeLimitMiddleware, limits_for


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
