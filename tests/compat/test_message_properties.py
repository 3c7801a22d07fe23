"""``request.properties`` carries the message's properties (``app_id`` & co. given to ``apply_async``), and
Celery 5.7's ``broker_pool_acquire_timeout`` setting is known (issue #14)."""

from __future__ import annotations

import pytest
from taskora.compat import Celery, signals
from taskora.compat.contrib.testing.worker import start_worker

ENGINES = ["redis", "memory"]


@pytest.fixture(params=ENGINES)
def app(request):
    broker = request.getfixturevalue("redis_url") if request.param == "redis" else "memory://"
    app = Celery("props", broker=broker)

    @app.task(bind=True, name="props.properties")
    def properties(self):
        return self.request.properties

    yield app
    app.close()


def test_properties_given_to_apply_async_reach_the_request(app):
    with start_worker(app, pool="threads", perform_ping_check=False):
        result = app.tasks["props.properties"].apply_async(app_id="1234", user_id="ann", priority=3)
        properties = result.get(timeout=10)
    assert properties["app_id"] == "1234" and properties["user_id"] == "ann"
    assert properties["correlation_id"] == result.id and properties["priority"] == 3
    assert properties["delivery_info"] == {"exchange": "", "routing_key": "celery"}
    assert properties["delivery_mode"] == 2


def test_before_task_publish_sees_the_same_properties(app):
    seen = []

    def record(sender=None, properties=None, **kwargs):
        seen.append(properties)

    signals.before_task_publish.connect(record, weak=False)
    try:
        result = app.tasks["props.properties"].apply_async(app_id="x1")
    finally:
        signals.before_task_publish.disconnect(record)
    assert seen[-1]["app_id"] == "x1" and seen[-1]["correlation_id"] == result.id


def test_broker_pool_acquire_timeout_is_a_known_setting():
    app = Celery("pool_timeout", broker="memory://")
    try:
        assert app.conf.broker_pool_acquire_timeout is None
        app.conf.broker_pool_acquire_timeout = 30
        assert app.conf.broker_pool_acquire_timeout == 30
        assert "broker_pool_acquire_timeout" in app.conf.table(with_defaults=True)
    finally:
        app.close()


def test_a_retried_task_keeps_its_integer_priority(app):
    @app.task(bind=True, name="props.retry_priority", max_retries=1)
    def retry_priority(self):
        if self.request.retries:
            return self.request.delivery_info["priority"]
        raise self.retry(countdown=0.05)

    with start_worker(app, pool="threads", perform_ping_check=False):
        assert app.tasks["props.retry_priority"].apply_async(priority=7).get(timeout=10) == 7


def test_a_plain_call_keeps_only_what_the_broker_would_not_rebuild(app):
    """The broker's own properties are rebuilt from the job's id and queue, not stored: storing them put every
    waiting job's hash past Redis's compact encoding (1,369 bytes per job instead of about 420)."""
    plain = app.tasks["props.properties"].apply_async(queue="celery")
    with_extra = app.tasks["props.properties"].apply_async(app_id="kept")
    stored = {job_id: app.__taskora_app__.adapter.get_fields("props.properties", job_id, ["celery.properties"])
              for job_id in (plain.id, with_extra.id)}
    assert stored[plain.id].get("celery.properties") is None
    assert stored[with_extra.id]["celery.properties"] == '{"app_id": "kept"}'
    with start_worker(app, pool="threads", perform_ping_check=False):
        assert plain.get(timeout=10) == {"correlation_id": plain.id, "delivery_mode": 2, "priority": 0,
                                         "delivery_info": {"exchange": "", "routing_key": "celery"}}
        assert with_extra.get(timeout=10)["app_id"] == "kept"
