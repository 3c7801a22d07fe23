"""Revoking by stamped headers *before* the task is sent: the worker refuses a job whose stamps are revoked
(REVOKED, the body never runs), and a worker started later refuses it too (the stamps are kept in the store)."""

from __future__ import annotations

import uuid

import pytest
from taskora.compat import signals
from taskora.compat.app import _revoked_stamps
from taskora.compat.canvas import signature
from taskora.compat.contrib.testing.app import TestApp, setup_default_app
from taskora.compat.contrib.testing.worker import start_worker
from taskora.compat.exceptions import TaskRevokedError
from taskora.compat.worker import state as worker_state

from .celery_helpers import wait_until


@pytest.fixture(params=["redis", "memory"])
def app(request):
    config = {}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        config = {"broker_url": url, "result_backend": url}
    app = TestApp("stampsahead", config=config)
    worker_state.revoked_stamps.clear()
    with setup_default_app(app):
        yield app
    worker_state.revoked_stamps.clear()


def _add(app, ran):
    @app.task(name="stampsahead.add")
    def add(x, y):
        ran.append((x, y))
        return x + y

    return add


def test_a_task_sent_after_its_stamp_was_revoked_is_refused(app):
    ran, revoked = [], []
    _add(app, ran)
    tag = uuid.uuid4().hex
    receiver = lambda request=None, **kwargs: revoked.append(request.id)  # noqa: E731
    signals.task_revoked.connect(receiver, weak=False)
    try:
        with start_worker(app, pool="threads", concurrency=2):
            stamped = signature("stampsahead.add", args=(1, 1), app=app).stamp(monitoring_id=tag)
            result = stamped.freeze()
            result.revoke_by_stamped_headers(headers={"monitoring_id": [tag]})
            stamped.apply_async()
            with pytest.raises(TaskRevokedError):
                result.get(timeout=10)
            assert result.status == "REVOKED" and result.ready() and not result.failed()
            wait_until(lambda: result.id in revoked, 10, "task_revoked for the refused task")
            other = signature("stampsahead.add", args=(2, 2), app=app).stamp(monitoring_id="another").delay()
            assert other.get(timeout=10) == 4
    finally:
        signals.task_revoked.disconnect(receiver)
    assert ran == [(2, 2)]


def test_clearing_the_workers_revoked_stamps_lets_the_stamp_run_again(app):
    ran = []
    _add(app, ran)
    with start_worker(app, pool="threads", concurrency=1):
        app.control.revoke_by_stamped_headers({"monitoring_id": "m1"})
        worker_state.revoked_stamps.clear()
        result = signature("stampsahead.add", args=(3, 3), app=app).stamp(monitoring_id="m1").delay()
        assert result.get(timeout=10) == 6


def test_a_worker_started_after_the_revoke_refuses_too(app):
    ran = []
    _add(app, ran)
    app.control.revoke_by_stamped_headers({"monitoring_id": ["late", 7]})  # no worker is running
    worker_state.revoked_stamps.clear()  # a worker in another process has never heard of it
    stored = _revoked_stamps.stored_stamps(app)
    assert list(stored) == ["monitoring_id"] and set(stored["monitoring_id"]) == {"late", 7}
    with start_worker(app, pool="threads", concurrency=1):
        result = signature("stampsahead.add", args=(4, 4), app=app).stamp(monitoring_id=7).delay()
        with pytest.raises(TaskRevokedError):
            result.get(timeout=10)
    assert ran == []
