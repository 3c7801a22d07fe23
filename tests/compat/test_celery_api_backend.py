# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""``app.backend``: Celery's result backend API on taskora's store, on both engines (issue #14)."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest
from taskora.compat import states
from taskora.compat.backends.base import BaseKeyValueStoreBackend
from taskora.compat.backends.redis import RedisBackend

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


class StoredError(Exception):
    pass


def test_backend_is_one_redis_backend_that_allows_chords(make_celery):
    app = make_celery()
    assert isinstance(app.backend, RedisBackend) and isinstance(app.backend, BaseKeyValueStoreBackend)
    assert app.backend is app.backend
    assert app.backend.ensure_chords_allowed() is None


def test_store_result_for_an_id_without_a_job_is_what_asyncresult_reads(make_celery):
    app = make_celery()
    task_id = str(uuid.uuid4())
    assert app.AsyncResult(task_id).state == states.PENDING
    assert app.backend.store_result(task_id, {"n": 1}, states.SUCCESS) == {"n": 1}
    result = app.AsyncResult(task_id)
    assert result.state == states.SUCCESS and result.result == {"n": 1}
    assert result.get(timeout=5) == {"n": 1}
    meta = app.backend.get_task_meta(task_id)
    assert meta["status"] == states.SUCCESS and meta["result"] == {"n": 1} and meta["task_id"] == task_id


def test_stored_failure_is_reraised_with_its_class(make_celery):
    app = make_celery()
    task_id = str(uuid.uuid4())
    app.backend.mark_as_failure(task_id, StoredError("disk full"), traceback="tb text")
    result = app.AsyncResult(task_id)
    assert result.state == states.FAILURE and isinstance(result.result, StoredError)
    with pytest.raises(StoredError, match="disk full"):
        result.get(timeout=5)
    assert app.backend.get_state(task_id) == states.FAILURE


def test_a_task_storing_its_own_state_is_seen_while_it_runs_and_its_return_wins_after(make_celery):
    app = make_celery()
    stored, release = threading.Event(), threading.Event()

    @app.task(bind=True)
    def work(self):
        self.backend.store_result(self.request.id, {"step": 1}, "PROGRESS", request=self.request)
        stored.set()
        release.wait(10)
        return "final"

    app.__taskora_app__.start(concurrency=1)
    result = work.delay()
    assert stored.wait(10)
    assert result.state == "PROGRESS" and result.info == {"step": 1}
    release.set()
    assert result.get(timeout=10) == "final"
    assert app.AsyncResult(result.id).state == states.SUCCESS


def test_store_success_before_a_job_finishes_is_replaced_by_its_later_outcome(make_celery):
    app = make_celery()

    @app.task(bind=True)
    def first_pass(self):
        self.backend.store_result(self.request.id, "first-pass", states.SUCCESS)
        return "second-pass"

    app.__taskora_app__.start(concurrency=1)
    result = first_pass.delay()
    assert result.get(timeout=10) == "second-pass"
    assert app.backend.get_task_meta(result.id)["result"] == "second-pass"


def test_forget_makes_a_finished_result_pending(make_celery):
    app = make_celery()

    @app.task
    def add(x, y):
        return x + y

    app.__taskora_app__.start(concurrency=1)
    result = add.delay(2, 3)
    assert result.get(timeout=10) == 5
    result.forget()
    assert result.state == states.PENDING and result.result is None
    assert app.AsyncResult(result.id).state == states.PENDING
    orphan = str(uuid.uuid4())
    app.backend.store_result(orphan, 1, states.SUCCESS)
    app.backend.forget(orphan)
    assert app.AsyncResult(orphan).state == states.PENDING


def test_raw_key_value_access(make_celery):
    app = make_celery()
    backend = app.backend
    backend.set("k1", "v1")
    backend._set_with_state("k2", "v2", states.SUCCESS)
    assert backend.mget(["k1", "k2"]) == [b"v1", b"v2"]
    backend.delete("k1")
    assert backend.get("k1") is None and backend.get(b"doesNotExist") is None


def test_bad_input_names_the_problem_and_writes_nothing(make_celery):
    app = make_celery()
    with pytest.raises(ValueError, match="task id"):
        app.backend.store_result(None, 1, states.SUCCESS)
    task_id = str(uuid.uuid4())
    with pytest.raises(ValueError, match="state name"):
        app.backend.store_result(task_id, 1, None)
    assert app.AsyncResult(task_id).state == states.PENDING


STORE_IN_OTHER_PROCESS = """
import sys
from taskora.compat import Celery
app = Celery("other", broker=sys.argv[1])
app.backend.store_result(sys.argv[2], [1, 2], "SUCCESS")
"""


def test_a_result_stored_by_another_process_is_read_here(make_celery, adapter_kind, redis_url):
    if adapter_kind != "redis":
        pytest.skip("another process shares only a real Redis")
    app = make_celery()
    task_id = str(uuid.uuid4())
    subprocess.run([sys.executable, "-c", STORE_IN_OTHER_PROCESS, redis_url, task_id], check=True, timeout=60)
    assert app.AsyncResult(task_id).get(timeout=5) == [1, 2]


def test_update_state_for_another_id_stores_it(make_celery):
    app = make_celery()
    other = str(uuid.uuid4())

    @app.task(bind=True)
    def reporter(self, target):
        self.update_state(task_id=target, state="PROGRESS", meta={"done": 3})
        return "ok"

    app.__taskora_app__.start(concurrency=1)
    assert reporter.delay(other).get(timeout=10) == "ok"
    result = app.AsyncResult(other)
    assert result.state == "PROGRESS" and result.info == {"done": 3}
