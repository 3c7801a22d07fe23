# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Celery time limits on a real (in-process, threads-pool) worker: task-level and per-call limits.

``except SoftTimeLimitExceeded`` inside a Celery task catches what the worker raises; a hard limit
fails the job and ``result.get()`` raises ``TimeLimitExceeded``; ``apply_async(time_limit=,
soft_time_limit=)`` override the task's own limits for that one job.
"""

from __future__ import annotations

import time

import pytest
from taskora.compat import chain, chord, group, states
from taskora.compat.app import _publish
from taskora.compat.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from taskora.worker import limits

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def _work(seconds: float) -> str:
    """Python-level work (a soft limit lands between bytecodes, not inside one long C call)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return "finished"


def start_with_limits(app):
    native = app.__taskora_app__
    limits.install(limits.TimeLimitMiddleware(native))  # what the CLI's threads pool installs
    return native.start(concurrency=3)


def _tasks(app):
    @app.task(soft_time_limit=0.2)
    def careful(seconds):
        try:
            return _work(seconds)
        except SoftTimeLimitExceeded:  # the Celery idiom: clean up, then return or re-raise
            return "cleaned up"

    @app.task(time_limit=0.3)
    def runaway(seconds):
        return _work(seconds)

    @app.task
    def plain(seconds):
        try:
            return _work(seconds)
        except SoftTimeLimitExceeded:
            return "cleaned up"

    return careful, runaway, plain


def test_soft_limit_is_caught_inside_the_task_and_hard_limit_fails_it(make_celery):
    app = make_celery()
    careful, runaway, _ = _tasks(app)
    start_with_limits(app)
    assert careful.delay(5).get(timeout=10) == "cleaned up"
    result = runaway.delay(3)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=10)
    assert result.state == states.FAILURE and isinstance(result.result, TimeLimitExceeded)


def test_per_call_limits_override_the_tasks_own(make_celery):
    app = make_celery()
    careful, _, plain = _tasks(app)
    start_with_limits(app)
    # a task without limits gets one for this call only
    limited = plain.apply_async((5,), soft_time_limit=0.2)
    unlimited = plain.apply_async((0.4,))
    # a call may also relax the task's own limit
    relaxed = careful.apply_async((0.4,), soft_time_limit=5)
    hard = plain.apply_async((3,), time_limit=0.3)
    assert limited.get(timeout=10) == "cleaned up"
    assert unlimited.get(timeout=10) == "finished"
    assert relaxed.get(timeout=10) == "finished"
    with pytest.raises(TimeLimitExceeded):
        hard.get(timeout=10)


def test_a_canvas_members_own_limits_apply_to_its_job(make_celery):
    """``sig.set(soft_time_limit=...)`` in a chord header, a group or a chain: that member's job gets it."""
    app = make_celery()
    _, _, plain = _tasks(app)

    @app.task
    def collect(results):
        return results

    start_with_limits(app)
    header = [plain.s(0.05), plain.s(5).set(soft_time_limit=0.2)]
    assert chord(header)(collect.s()).get(timeout=10) == ["finished", "cleaned up"]
    assert group(plain.s(5).set(soft_time_limit=0.2)).delay().get(timeout=10) == ["cleaned up"]
    hard = chain(plain.si(5).set(time_limit=0.3)).delay()
    with pytest.raises(TimeLimitExceeded):
        hard.get(timeout=10)


def test_bad_per_call_limits_are_refused_before_sending(make_celery):
    app = make_celery()
    _, _, plain = _tasks(app)
    with pytest.raises(ValueError, match="time_limit for task .*plain must be a positive number"):
        plain.apply_async((1,), time_limit="soon")
    with pytest.raises(ValueError, match="soft_time_limit must be less than or equal to time_limit"):
        plain.apply_async((1,), time_limit=1, soft_time_limit=2)


def test_job_limit_field_names_match_the_workers():
    assert (_publish.JOB_SOFT_FIELD, _publish.JOB_HARD_FIELD) == (limits.JOB_SOFT_FIELD, limits.JOB_HARD_FIELD)
