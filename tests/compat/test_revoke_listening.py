"""A Celery worker reads its tasks' event streams for ``task_revoked`` only when something needs it.

Expired and revoked-before-start jobs reach ``task_revoked`` through the engine's ``expired``/``cancelled``
events, and reading them means one ``XREAD`` per job on a busy worker. So the worker listens only once a
``task_revoked`` receiver is connected (at start or later) or when it logs ``celery.worker.request`` at INFO
(Celery's "Discarding revoked task" line). tests/compat/test_revoke.py covers the signals themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from taskora.compat import Celery
from taskora.compat.signals import task_revoked
from taskora.compat.worker.state import REVOKED_RECEIVER_UID


@pytest.fixture
def quiet_worker_app(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Celery]:
    """A worker-side app with no ``task_revoked`` receiver (whatever earlier tests connected) at WARNING."""
    own = [entry for entry in task_revoked._receivers if entry[0][0] == REVOKED_RECEIVER_UID]
    monkeypatch.setattr(task_revoked, "_receivers", own)  # worker.state's bookkeeping stays, as in a worker
    monkeypatch.setattr(task_revoked, "_on_connect", [])
    request_log = logging.getLogger("celery.worker.request")
    level_before = request_log.level
    request_log.setLevel(logging.WARNING)  # setLevel, not the attribute: it also clears isEnabledFor's cache
    app = Celery("revoke_listening", broker=redis_url)

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    try:
        yield app
    finally:
        app.close()
        request_log.setLevel(level_before)


def hears_dropped_jobs(app: Celery) -> bool:
    native = app.__taskora_app__
    return native.events.has("task:expired") and native.events.has("task:cancelled")


def test_without_receivers_the_worker_reads_no_task_events(quiet_worker_app: Celery) -> None:
    quiet_worker_app.select_queues()  # what `taskora worker -A` does first
    assert not hears_dropped_jobs(quiet_worker_app)


def test_a_receiver_connected_later_makes_the_worker_listen(quiet_worker_app: Celery) -> None:
    quiet_worker_app.select_queues()
    got = []

    def receiver(**kwargs: object) -> None:
        got.append(kwargs)

    task_revoked.connect(receiver)
    try:
        assert hears_dropped_jobs(quiet_worker_app)
    finally:
        task_revoked.disconnect(receiver)


def test_info_logging_of_worker_requests_makes_the_worker_listen(quiet_worker_app: Celery) -> None:
    logging.getLogger("celery.worker.request").setLevel(logging.INFO)
    quiet_worker_app.select_queues()
    assert hears_dropped_jobs(quiet_worker_app)


def test_a_closed_app_is_left_alone_by_a_later_receiver(quiet_worker_app: Celery) -> None:
    """Connecting a receiver never reaches an app closed since (its store may be gone): its wait is dropped."""
    quiet_worker_app.select_queues()
    quiet_worker_app.close()

    def receiver(**kwargs: object) -> None:
        pass

    task_revoked.connect(receiver)
    try:
        assert task_revoked._on_connect == []
    finally:
        task_revoked.disconnect(receiver)
