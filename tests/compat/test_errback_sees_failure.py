# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A task's failure is stored before its errbacks run (Celery's ``mark_as_failure`` order): an errback reading
the failed task's result sees FAILURE, not PENDING, on both engines."""

from __future__ import annotations

import pytest

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def running(make_celery):
    app = make_celery()
    seen = []

    @app.task(name="errback.fail")
    def fail():
        raise KeyError("boom")

    @app.task(name="errback.quiet_fail", ignore_result=True)
    def quiet_fail():
        raise KeyError("quiet")

    @app.task(name="errback.look")
    def look(request, exc, traceback):  # new-style errback: called in the failing task's worker, in order
        seen.append((app.AsyncResult(request.id).state, type(exc).__name__))

    app.__taskora_app__.start(concurrency=1)
    return app, fail, quiet_fail, look, seen


def test_an_errback_sees_the_failure_already_stored(running):
    app, fail, _, look, seen = running
    result = fail.apply_async(link_error=look.s())
    wait_until(lambda: seen, 15, "the errback to run")
    assert seen == [("FAILURE", "KeyError")]
    with pytest.raises(KeyError):
        result.get(timeout=10)


def test_a_task_ignoring_results_stores_no_failure_for_its_errback(running):
    app, _, quiet_fail, look, seen = running
    quiet_fail.apply_async(link_error=look.s())
    wait_until(lambda: seen, 15, "the errback to run")
    assert seen == [("PENDING", "KeyError")]
