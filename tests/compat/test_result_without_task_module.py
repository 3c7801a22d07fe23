"""A process that never imported a task's module reads its result from the id alone, as Celery's does: a web
process polling ``AsyncResult(id)`` for a task only its workers import (issue #15, migration_guide/differences.md)."""

from __future__ import annotations

import pytest
from taskora.compat import Celery, states
from taskora.compat.contrib.testing.worker import start_worker


@pytest.fixture
def sender(redis_url):
    app = Celery("sender", broker=redis_url)

    @app.task(name="elsewhere.add")
    def add(x, y):
        return x + y

    @app.task(name="elsewhere.boom", queue="reports")
    def boom():
        raise KeyError("gone")

    yield app
    app.close()


@pytest.fixture
def reader(redis_url):
    app = Celery("reader", broker=redis_url)  # registers neither task
    yield app
    app.close()


def test_a_result_is_read_from_its_id_by_an_app_without_the_task(sender, reader):
    with start_worker(sender, pool="threads", perform_ping_check=False):
        sent = sender.tasks["elsewhere.add"].delay(2, 3)
        assert reader.AsyncResult(sent.id).get(timeout=10) == 5
    assert reader.AsyncResult(sent.id).state == states.SUCCESS


def test_a_failure_on_another_queue_reads_back_with_its_exception(sender, reader):
    sender.conf.task_routes = {"elsewhere.boom": {"queue": "reports"}}
    with start_worker(sender, pool="threads", perform_ping_check=False, queues=["reports"]):
        sent = sender.tasks["elsewhere.boom"].delay()
        with pytest.raises(KeyError):
            reader.AsyncResult(sent.id).get(timeout=10)
    assert reader.AsyncResult(sent.id).state == states.FAILURE


def test_a_named_task_is_searched_under_that_name_only(sender, reader):
    sent = sender.tasks["elsewhere.add"].delay(1, 1)
    assert reader.AsyncResult(sent.id, task_name="elsewhere.add").state == states.PENDING  # waiting: no worker
    assert reader.AsyncResult(sent.id)._handle().task == "elsewhere.add"
    assert reader.AsyncResult(sent.id, task_name="elsewhere.boom")._handle() is None


def test_an_id_nobody_sent_stays_pending(sender, reader):
    sender.tasks["elsewhere.add"].delay(1, 1)
    assert reader.AsyncResult("no-such-id").state == states.PENDING
