"""``app.Worker(...)``: an in-process worker object; built without consuming, ``start()`` runs it in the
foreground until ``stop()`` (warm) or ``terminate()`` (cold) from another thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from taskora.compat import Celery, signals
from taskora.compat.app import trace
from taskora.compat.exceptions import ImproperlyConfigured

from tests.waiting import wait_until

from .celery_helpers import make_celery  # noqa: F401 - fixture


@pytest.fixture
def app(make_celery) -> Iterator[Celery]:  # noqa: F811 - the fixture above
    app = make_celery()
    yield app
    trace.reset_worker_optimizations(app)


def _add(app: Celery):
    @app.task(name="appworker.add")
    def add(x, y):
        return x + y

    return add


def answers_ping(app: Celery, hostname: str) -> list:
    """The worker's ping answer, once its control channel listens (it subscribes after start() began)."""
    return wait_until(lambda: app.control.ping(timeout=0.2, destination=[hostname]), what=f"{hostname} to answer")


@contextmanager
def started(worker) -> Iterator[threading.Thread]:
    """``worker.start()`` in a thread; the worker is stopped (and must have returned) on exit."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            worker.start()
        except BaseException as exc:  # the test fails with it below
            failures.append(exc)

    thread = threading.Thread(target=run, name="app-worker")
    thread.start()
    try:
        yield thread
    finally:
        worker.stop()
        thread.join(20)
    assert not thread.is_alive(), "worker.start() did not return after stop()"
    assert not failures, failures


@pytest.mark.parametrize("pool", ["solo", "threads"])
def test_started_worker_processes_a_job_and_stop_returns_start(app: Celery, pool: str) -> None:
    add = _add(app)
    worker = app.Worker(pool=pool, concurrency=2, loglevel="warning")
    with started(worker):
        assert add.delay(2, 3).get(timeout=15) == 5
        assert answers_ping(app, worker.hostname) == [{worker.hostname: {"ok": "pong"}}]
    assert app.control.ping(timeout=0.3, destination=[worker.hostname]) == []


def test_building_a_worker_sends_worker_init_with_it_and_consumes_nothing(app: Celery) -> None:
    add = _add(app)
    senders = []

    def on_worker_init(sender=None, **kwargs):
        senders.append(sender)

    signals.worker_init.connect(on_worker_init, weak=False)
    try:
        worker = app.Worker(pool="solo", concurrency=1, hostname="built@here")
    finally:
        signals.worker_init.disconnect(on_worker_init)
    assert senders == [worker] and worker.app is app
    result = add.delay(1, 1)
    assert app.control.ping(timeout=0.3, destination=["built@here"]) == []  # nothing runs yet
    assert result.state == "PENDING"
    with started(worker):
        assert result.get(timeout=15) == 2


def test_remote_control_live_operations_reach_the_running_pool(app: Celery) -> None:
    _add(app)
    worker = app.Worker(pool="threads", concurrency=1)
    with started(worker):
        answers_ping(app, worker.hostname)
        assert worker.pool is not None and worker.pool.size() == 1
        replies = app.control.pool_grow(2, destination=[worker.hostname], reply=True, timeout=5)
        assert replies == [{worker.hostname: {"ok": "pool will grow"}}]
        assert worker.pool.size() == 3
    assert worker.pool is None


def test_terminate_is_a_cold_stop_that_returns_start(app: Celery) -> None:
    _add(app)
    worker = app.Worker(pool="threads", concurrency=1)
    thread = threading.Thread(target=worker.start)
    thread.start()
    answers_ping(app, worker.hostname)
    worker.terminate()
    thread.join(20)
    assert not thread.is_alive() and worker.wait_stopped(0)


def test_worker_attributes_read_by_celery_code(app: Celery) -> None:
    worker = app.WorkController(pool="prefork", concurrency="3", loglevel="debug", queues="a, b")
    assert worker.pool_cls.__module__ == "taskora.compat.concurrency.prefork" and worker.pool_cls.uses_processes
    assert (worker.concurrency, worker.loglevel, worker.queues) == (3, 10, ["a", "b"])
    assert app.Worker(pool="threads").pool_cls.__module__ == "taskora.compat.concurrency.thread"
    from taskora.compat.worker import WorkController  # Celery's celery.worker.WorkController

    assert issubclass(app.Worker, WorkController) and app.Worker is app.Worker


@pytest.mark.parametrize(("options", "named"), [({"pool": "eventlet"}, "'eventlet'"),
                                                ({"concurrency": "lots"}, "'lots'"),
                                                ({"concurrency": -1}, "-1")])
def test_bad_worker_options_are_refused_naming_them(app: Celery, options: dict, named: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=named):
        app.Worker(**options)


def test_reset_worker_optimizations_undoes_the_default_app(app: Celery, make_celery) -> None:  # noqa: F811
    from taskora.compat import _state

    other = make_celery()
    other.set_default()
    app.Worker(pool="solo")
    assert _state.default_app() is app and _state.get_current_app() is app
    trace.reset_worker_optimizations(app)
    assert _state.default_app() is not app and _state.get_current_app() is not app
