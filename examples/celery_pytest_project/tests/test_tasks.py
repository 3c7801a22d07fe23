"""Written as Celery's testing guide writes tests; after the import rewrite they run on taskora."""

import pytest
from celery import group
from celery.result import AsyncResult
from proj.tasks import add, fail, whoami


def test_shared_task_round_trip(celery_app, celery_worker):
    assert add.delay(4, 4).get(timeout=10) == 8


def test_task_defined_in_the_test(celery_app, celery_worker):
    @celery_app.task
    def mul(x, y):
        return x * y

    celery_worker.reload()
    assert mul.delay(4, 4).get(timeout=10) == 16


def test_the_embedded_worker_runs_the_task(celery_app, celery_worker):
    assert whoami.delay().get(timeout=10) == celery_worker.hostname


def test_failure_is_raised_by_get(celery_app, celery_worker):
    result = fail.delay("boom")
    with pytest.raises(ValueError, match="boom"):
        result.get(timeout=10)
    assert AsyncResult(result.id).state == "FAILURE"


def test_group(celery_app, celery_worker):
    assert group(add.s(i, i) for i in range(5)).delay().get(timeout=10) == [0, 2, 4, 6, 8]


@pytest.mark.celery(task_always_eager=True)
def test_marker_overrides_the_configuration(celery_app):
    assert celery_app.conf.task_always_eager is True

    @celery_app.task
    def double(x):
        return 2 * x

    assert double.delay(21).get() == 42


def test_worker_answers_ping(celery_app, celery_worker):
    replies = celery_app.control.ping(timeout=2)
    assert {celery_worker.hostname: {"ok": "pong"}} in replies
