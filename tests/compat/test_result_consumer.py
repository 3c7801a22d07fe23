# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""``app.backend.result_consumer`` (Celery's Redis ``ResultConsumer``) on the app's store, both engines: it reports
explicit writes published on an id's channel and jobs finished by a worker, and shares one pub/sub connection
between threads without nesting commands on it."""

from __future__ import annotations

import threading
import uuid

import pytest
from taskora.compat import states

from tests.waiting import wait_until

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def consumer(make_celery):
    app = make_celery()
    found = []
    consumer = app.backend.result_consumer
    consumer.on_state_change = lambda meta, message: found.append((meta["task_id"], meta["status"], message))
    yield app, consumer, found
    consumer.stop()


def _server_channels(app, consumer):
    return {c.decode() if isinstance(c, bytes) else c for c in app.backend.client.pubsub_channels()}


def test_an_explicit_write_is_published_and_drained(consumer):
    app, consumer, found = consumer
    task_id = str(uuid.uuid4())
    consumer.start(task_id)
    assert consumer.subscribed_to == {consumer._get_key_for_task(task_id)}
    assert consumer._get_key_for_task(task_id) in _server_channels(app, consumer)
    app.backend.store_result(task_id, 42, states.SUCCESS)
    consumer.drain_events(timeout=2)
    assert [(i, s) for i, s, message in found if message is not None] == [(task_id, states.SUCCESS)]
    consumer.cancel_for(task_id)
    assert consumer.subscribed_to == set()
    # The UNSUBSCRIBE goes out on the pub/sub connection; the query below, on another, may reach Redis first.
    wait_until(lambda: not _server_channels(app, consumer), timeout=5, what="the server to drop the channel")


def test_a_job_finished_by_a_worker_is_reported(consumer):
    app, consumer, found = consumer

    @app.task(name="rc.add")
    def add(x, y):
        return x + y

    app.__taskora_app__.start(concurrency=1)
    result = add.delay(1, 2)
    consumer.start(result.id)
    assert result.get(timeout=10) == 3
    consumer.drain_events(timeout=0.1)
    assert (result.id, states.SUCCESS) in [(i, s) for i, s, _ in found]


def test_a_cancel_issued_inside_a_command_is_sent_after_it_not_nested(consumer):
    app, consumer, _ = consumer
    initial, outer, late = (str(uuid.uuid4()) for _ in range(3))
    consumer.start(initial)
    consumer.consume_from(late)
    pubsub, in_flight, nested = consumer._pubsub, [], []
    real_subscribe = pubsub.subscribe

    def subscribe(*channels):
        if in_flight:
            nested.append(channels)
        in_flight.append(channels)
        try:
            return real_subscribe(*channels)
        finally:
            consumer.cancel_for(late)  # a finalizer running on this thread mid-command
            in_flight.pop()

    pubsub.subscribe = subscribe
    try:
        consumer.consume_from(outer)
    finally:
        del pubsub.subscribe
    assert not nested
    assert consumer.subscribed_to == {consumer._get_key_for_task(i) for i in (initial, outer)}


def test_threads_subscribing_while_one_drains_leave_only_their_survivors(consumer):
    app, consumer, _ = consumer
    initial = str(uuid.uuid4())
    consumer.start(initial)
    stop, errors = threading.Event(), []

    def drain():
        while not stop.is_set():
            try:
                consumer.drain_events(timeout=0.05)
            except Exception as exc:  # the assertion below names it
                errors.append(exc)
                stop.set()

    def churn():
        for _ in range(20):
            task_id = str(uuid.uuid4())
            consumer.consume_from(task_id)
            consumer.cancel_for(task_id)

    drainer = threading.Thread(target=drain)
    drainer.start()
    workers = [threading.Thread(target=churn) for _ in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(30)
    stop.set()
    drainer.join(30)
    assert not errors
    assert consumer.subscribed_to == {consumer._get_key_for_task(initial)}
    assert _server_channels(app, consumer) == {consumer._get_key_for_task(initial)}
