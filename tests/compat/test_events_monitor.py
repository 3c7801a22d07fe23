"""Celery's "Real-time processing" monitor against a live ``taskora worker -A`` subprocess on Redis."""

from __future__ import annotations

import pytest
from taskora.compat import Celery, states

from .celery_helpers import control_worker

PROJECT = '''
    import os

    from taskora.compat import Celery

    app = Celery("monitor_proj", broker=os.environ["REDIS_URL"])


    @app.task
    def add(x, y):
        return x + y


    @app.task
    def boom(word):
        raise KeyError(word)
'''


def test_the_monitor_pattern_sees_a_live_workers_tasks(tmp_path, redis_url):
    with control_worker(tmp_path, "monitor_proj", PROJECT, redis_url, "-P", "threads") as (worker, client):
        monitor = Celery("monitor_proj", broker=redis_url)  # a monitor script: no task of its own is registered
        try:
            _monitor(monitor, client)
        finally:
            monitor.close()


def _monitor(monitor, client):
    state = monitor.events.State()
    failures = []

    def announce_failed(event):
        on_event(event)
        failures.append(state.tasks.get(event["uuid"]))

    def on_event(event):
        state.event(event)
        receiver.should_stop = len(state.tasks) == 2 and all(t.ready for _, t in state.itertasks())

    with monitor.connection() as connection:
        assert client.control.inspect(timeout=2, connection=connection).ping()  # control calls take it too
        receiver = monitor.events.Receiver(connection, handlers={"task-failed": announce_failed, "*": on_event})
        receiver.queue(connection.default_channel).declare()
        ok = client.send_task("monitor_proj.add", (1, 2))
        bad = client.send_task("monitor_proj.boom", ("nope",))
        receiver.capture(limit=None, timeout=20, wakeup=True)
    assert state.tasks[ok.id].state == states.SUCCESS and state.tasks[ok.id].result == "3"
    assert [t.uuid for t in failures] == [bad.id]
    assert failures[0].exception == "KeyError('nope')" and failures[0].args == "('nope',)"


@pytest.fixture
def memory_app():
    app = Celery("proj", broker="memory://")
    yield app
    app.close()


def test_a_connection_to_another_broker_url_is_an_engine_of_its_own(memory_app, redis_url):
    with memory_app.connection(redis_url) as connection:
        connection.ensure_connection(max_retries=0)
        receiver = memory_app.events.Receiver(connection, handlers={})
        receiver.queue(connection.default_channel).declare()
        with memory_app.events.Dispatcher(connection, hostname="remote@test") as dispatcher:
            dispatcher.send("worker-custom", n=1)
        with memory_app.connection() as local:  # the app's own (in-memory) engine has not seen it
            local_receiver = memory_app.events.Receiver(local, handlers={})
            with pytest.raises(TimeoutError):
                local_receiver.capture(limit=1, timeout=0.2)
        events = list(receiver.itercapture(limit=1, timeout=10))
    assert [(e["type"], e["n"], e["hostname"]) for e in events] == [("worker-custom", 1, "remote@test")]


def test_a_task_first_served_after_the_declare_is_read_from_the_declare_on(redis_url):
    from taskora.compat.contrib.testing.worker import start_worker

    monitor, project = Celery("late_proj", broker=redis_url), Celery("late_proj", broker=redis_url)
    try:
        old = project.task(name="late_proj.old")(lambda: "before").delay()  # its sending is never seen
        receiver = monitor.events.Receiver(monitor.connection(), handlers={})
        receiver.queue(receiver.connection.default_channel).declare()
        late = project.task(name="late_proj.late")(lambda: "after")
        with start_worker(project, perform_ping_check=False):
            sent = late.delay()  # no worker served either task at the declare: the monitor finds them later
            assert sent.get(timeout=10) == "after" and old.get(timeout=10) == "before"
            events = [(e["type"], e["uuid"]) for e in receiver.itercapture(limit=5, timeout=10)]
    finally:
        monitor.close()
        project.close()
    assert [event for event in events if event[1] == old.id] == [("task-started", old.id), ("task-succeeded", old.id)]
    assert [event for event in events if event[1] == sent.id] == [("task-received", sent.id), ("task-started", sent.id),
                                                                  ("task-succeeded", sent.id)]
