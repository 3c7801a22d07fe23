"""``app.events`` Dispatcher -> Receiver and the engine's job transitions as Celery events, on both engines."""

from __future__ import annotations

import socket
import time

import pytest
from kombu.exceptions import OperationalError
from taskora.compat import states

from taskora.errors import ConfigurationError

from .celery_helpers import make_celery  # noqa: F401 - fixture


@pytest.fixture
def app(make_celery):  # noqa: F811
    app = make_celery()

    @app.task(name="proj.add")
    def add(x, y):
        return x + y

    return app


def test_dispatcher_events_reach_a_declared_receiver_with_celery_stamps(app):
    seen, failed = [], []
    with app.connection_for_write() as connection:
        receiver = app.events.Receiver(connection, handlers={"task-failed": failed.append, "*": seen.append})
        with app.events.Dispatcher(connection, hostname="mon@test") as dispatcher:
            dispatcher.send("worker-custom", note="before the queue exists")
            receiver.queue(connection.default_channel).declare()
            dispatcher.send("task-received", uuid="t1", name="proj.add", args="(1, 2)")
            dispatcher.send("task-failed", uuid="t1", exception="ValueError('x')")
            dispatcher.send("worker-custom", note="after")
        receiver.capture(limit=3, timeout=10)
    assert [e["type"] for e in seen] == ["task-received", "worker-custom"]
    assert [e["uuid"] for e in failed] == ["t1"]
    assert seen[1]["note"] == "after"
    for event in (*seen, *failed):
        assert event["hostname"] == "mon@test"
        assert {"timestamp", "clock", "pid", "utcoffset", "local_received"} <= set(event)
    assert seen[0]["clock"] < failed[0]["clock"] < seen[1]["clock"]


def test_a_dispatcher_disabled_or_outside_its_groups_sends_nothing(app):
    with app.connection() as connection:
        receiver = app.events.Receiver(connection, handlers={})
        receiver.queue(connection.default_channel).declare()
        with app.events.Dispatcher(connection, enabled=False) as off:
            assert off.send("task-received", uuid="x") is None
        with app.events.Dispatcher(connection, groups=["worker"]) as workers_only:
            assert workers_only.send("task-received", uuid="y") is None
            sent = workers_only.send("worker-custom", n=1)
        with app.events.default_dispatcher(hostname="own@test") as own:  # its own connection, released after
            own.send("worker-custom", n=2)
        events = list(receiver.itercapture(limit=2, timeout=10))
    assert [(e["type"], e["n"]) for e in events] == [("worker-custom", 1), ("worker-custom", 2)]
    assert sent["hostname"] == app.hostname and events[1]["hostname"] == "own@test"


def test_a_capture_with_no_event_raises_socket_timeout(app):
    with app.connection() as connection:
        receiver = app.events.Receiver(connection, handlers={})
        started = time.monotonic()
        with pytest.raises(socket.timeout):
            receiver.capture(limit=1, timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 3


def test_published_and_revoked_jobs_arrive_as_task_received_and_task_revoked(app):
    state = app.events.State()
    with app.connection() as connection:
        receiver = app.events.Receiver(connection, handlers={"*": state.event})
        receiver.queue(connection.default_channel).declare()
        result = app.tasks["proj.add"].delay(2, 3)
        result.revoke()
        events = list(receiver.itercapture(limit=2, timeout=10))
    assert [e["type"] for e in events] == ["task-received", "task-revoked"]
    assert events[0]["name"] == "proj.add" and events[0]["args"] == "(2, 3)" and events[0]["kwargs"] == "{}"
    task = state.tasks[result.id]
    assert task.state == states.REVOKED and task.name == "proj.add" and task.root_id == result.id


def test_worker_transitions_become_started_succeeded_and_failed_events(app):
    from taskora.compat.contrib.testing.worker import start_worker

    @app.task(name="proj.boom")
    def boom():
        raise ValueError("bad input")

    @app.task(name="proj.flaky", bind=True, max_retries=1)
    def flaky(self):
        if self.request.retries == 0:
            raise self.retry(exc=KeyError("once"), countdown=0)
        return "ok"

    state = app.events.State()
    with app.connection() as connection:
        receiver = app.events.Receiver(connection, handlers={"*": state.event})
        receiver.queue(connection.default_channel).declare()
        with start_worker(app, perform_ping_check=False):
            ok = app.tasks["proj.add"].delay(20, 22)
            assert ok.get(timeout=10) == 42
            bad = boom.delay()
            with pytest.raises(ValueError):
                bad.get(timeout=10)
            retried = flaky.delay()
            assert retried.get(timeout=10) == "ok"
        types = [e["type"] for e in receiver.itercapture(limit=11, timeout=10)]
    done, failed = state.tasks[ok.id], state.tasks[bad.id]
    assert (done.state, done.result, done.args) == (states.SUCCESS, "42", "(20, 22)")
    assert done.runtime is not None and done.runtime >= 0
    assert failed.state == states.FAILURE and failed.exception == "ValueError('bad input')"
    assert "ValueError: bad input" in failed.traceback
    assert [name for name, _t in state.tasks_by_type("proj.boom")] == [bad.id]
    assert types[6:] == ["task-received", "task-started", "task-retried", "task-started", "task-succeeded"]
    again = state.tasks[retried.id]
    assert again.state == states.SUCCESS and again.retried is not None


def test_connection_names_the_engine_and_checks_it_answers(app):
    with app.connection() as connection:
        assert connection.ensure_connection(max_retries=0) is connection and connection.connected
        assert connection.transport_cls in ("redis", "memory")
        assert connection.default_channel.connection is connection
    assert not connection.connected
    with pytest.raises(ConfigurationError, match="closed"):
        connection.connect()


def test_connection_uri_masks_the_password(app):
    connection = app.connection("redis://:s3cret@cache.example:6390/2")
    assert connection.as_uri() == "redis://:**@cache.example:6390/2"
    assert "s3cret" in connection.as_uri(include_password=True)
    assert (connection.hostname, connection.port, connection.transport_cls) == ("cache.example", 6390, "redis")
    connection.release()


def test_ensure_connection_retries_then_raises_naming_the_address(app):
    failures = []
    with app.connection("redis://127.0.0.1:1/0") as connection:
        with pytest.raises(OperationalError, match="broker at redis://127.0.0.1:1/0"):
            connection.ensure_connection(errback=lambda exc, interval: failures.append(interval), max_retries=2,
                                         interval_start=0.01, interval_step=0.01)
    assert failures == [0.01, 0.02]


def test_the_migration_guides_events_example_runs_as_written():
    """docs/migration is a symlink the docs example test skips: the guide's ``app.events`` example runs here."""
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "migration_guide" / "api.md").read_text()
    section = guide.split("## Events and monitors", 1)[1].split("\n## ", 1)[0]
    source = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(source, "migration_guide/api.md#events", "exec"), {})


def test_an_unreachable_engine_raises_operational_error_from_receiver_and_dispatcher(app):
    with app.connection("redis://127.0.0.1:1/0") as connection:
        receiver = app.events.Receiver(connection, handlers={})
        with pytest.raises(OperationalError, match="broker at redis://127.0.0.1:1/0"):
            receiver.queue(connection.default_channel).declare()
        with pytest.raises(OperationalError, match="broker at redis://127.0.0.1:1/0"):
            receiver.capture(limit=1, timeout=1)
        with app.events.Dispatcher(connection) as dispatcher, pytest.raises(OperationalError, match="broker at redis://127.0.0.1:1/0"):
            dispatcher.send("worker-custom")


def test_receiver_and_dispatcher_refuse_what_is_not_an_app_connection(app):
    with pytest.raises(ConfigurationError, match=r"app.connection\(\).*got str"):
        app.events.Receiver("redis://localhost", handlers={})
    with pytest.raises(ConfigurationError, match="got object"):
        app.events.Dispatcher(object())
