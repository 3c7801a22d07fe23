# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A call's ``ignore_result`` wins over the task's (Celery's ``get_actual_ignore_result``), through retries too:
``apply_async(ignore_result=False)`` on a task that ignores results keeps this call's result."""

from __future__ import annotations

import pytest
from taskora.compat import states

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def running(make_celery):
    app = make_celery()

    @app.task(bind=True, name="ign.retry_once", ignore_result=True)
    def retry_once(self):
        if not self.request.retries:
            raise self.retry(countdown=0)
        return self.request.retries

    @app.task(name="ign.plain")
    def plain():
        return 5

    app.__taskora_app__.start(concurrency=1)
    return app, retry_once, plain


def test_a_call_keeping_the_result_of_a_task_that_ignores_results_gets_it_after_a_retry(running):
    app, retry_once, _ = running
    result = retry_once.apply_async(ignore_result=False)
    assert result.get(timeout=10) == 1
    meta = app.backend.get_task_meta(result.id)
    assert (meta["status"], meta["result"]) == (states.SUCCESS, 1)


def test_an_explicit_ignore_keeps_nothing_of_a_task_that_keeps_results(running):
    app, _, plain = running
    ignored = plain.apply_async(ignore_result=True)
    job = app.__taskora_app__.handle("ign.plain", ignored.id)
    wait_until(lambda: job.state() == "completed", 10, "the ignored call to finish")
    assert app.backend.get_task_meta(ignored.id)["status"] == states.PENDING
    assert plain.delay().get(timeout=10) == 5
