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


def test_a_bound_errback_runs_as_a_task_given_the_id_and_may_retry_eagerly(make_celery):
    """Celery sends a ``bind=True`` errback the failed task's id, as a task, whatever its arity (its header is a
    partial); so an eager ``apply()`` whose errback retries retries that errback eagerly (Celery's
    test_link_error_callback_error_callback_retries_eager). Before, it was called with (request, exc, tb) and its
    retry raised ``Retry`` out of ``apply()``."""
    app = make_celery()
    ran = []

    @app.task(name="errback.fail_eager")
    def fail():
        raise KeyError("boom")

    @app.task(name="errback.retry_once", bind=True)
    def retry_once(self, *args, countdown=None):
        ran.append((args, self.request.retries))
        if not self.request.retries:
            raise self.retry(countdown=countdown, max_retries=1)
        return self.request.retries

    result = fail.apply(link_error=retry_once.s())
    assert isinstance(result.get(propagate=False), KeyError)
    assert ran == [((result.id,), 0), ((result.id,), 1)]
