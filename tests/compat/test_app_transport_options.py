# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""``broker_transport_options['visibility_timeout']`` → the engine tasks' stall (lock lease) interval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from taskora.compat.exceptions import ImproperlyConfigured

from taskora.options import StallPolicy

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def _engine_options(app, name):
    return app.__taskora_app__.tasks[name].options


def test_explicit_visibility_timeout_becomes_the_stall_interval(make_celery):
    # Given a project that set visibility_timeout explicitly (seconds, as Celery reads it)
    app = make_celery(broker_transport_options={"visibility_timeout": 7200})

    @app.task
    def add(x, y):
        return x + y

    # Then its engine task holds jobs under a 7200 s lease, on every engine twin of the task
    assert _engine_options(app, add.name).stall.interval == 7200.0
    add.apply_async((1, 2), queue="other")
    assert _engine_options(app, f"other::{add.name}").stall.interval == 7200.0
    # and a name sent without a local task waits under the same lease
    app.send_task("remote.task", args=(1,))
    assert _engine_options(app, "remote.task").stall.interval == 7200.0


def test_timedelta_and_late_configuration_are_read(make_celery):
    app = make_celery()
    app.conf.broker_transport_options = {"visibility_timeout": timedelta(minutes=5)}

    @app.task
    def ping():
        return "pong"

    assert _engine_options(app, ping.name).stall.interval == 300.0


def test_celerys_default_keeps_taskoras_short_lease(make_celery):
    # Given no visibility_timeout (Celery's default is 3600 s on Redis)
    app = make_celery(broker_transport_options={"priority_steps": [0, 3, 6, 9]})

    @app.task
    def ping():
        return "pong"

    # Then the native 30 s lease is kept: a dead worker's job comes back in seconds, not an hour
    assert app.conf.effective().visibility_timeout == 3600.0
    assert _engine_options(app, ping.name).stall.interval == StallPolicy().interval == 30.0


@pytest.mark.parametrize("value", ["soon", 0, -5, True])
def test_a_bad_visibility_timeout_names_the_setting(make_celery, value):
    app = make_celery(broker_transport_options={"visibility_timeout": value})

    @app.task
    def ping():
        return "pong"

    with pytest.raises(ImproperlyConfigured, match=r"visibility_timeout.\] must be a (positive )?number of seconds"):
        _ = app.__taskora_app__  # the engine tasks are registered here


def test_connection_tuning_reaches_the_redis_client(redis_url):
    # Given the connection keys kombu hands to redis-py
    from taskora.compat import Celery

    app = Celery("proj", broker=redis_url, broker_transport_options={
        "socket_timeout": 7.5, "socket_connect_timeout": timedelta(seconds=3), "max_connections": 40,
        "health_check_interval": 10, "client_name": "proj-worker", "visibility_timeout": 60})
    try:
        # Then taskora's connections use them
        kwargs = app.__taskora_app__.adapter.client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (7.5, 3.0)
        assert (kwargs["health_check_interval"], kwargs["client_name"]) == (10.0, "proj-worker")
        assert app.__taskora_app__.adapter.client.connection_pool.max_connections == 40
        assert app.__taskora_app__.adapter.client.ping()
    finally:
        app.close()


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("socket_timeout", "slow", "a positive number of seconds"),
    ("socket_timeout", 0, "a positive number of seconds"),
    ("max_connections", 0, "a positive whole number"),
    ("socket_keepalive", "yes", "True or False"),
    ("client_name", 7, "a string"),
])
def test_a_bad_connection_option_names_the_key(make_celery, key, value, expected):
    app = make_celery(broker_transport_options={key: value})
    with pytest.raises(ImproperlyConfigured, match=rf"broker_transport_options\['{key}'\] must be {expected}"):
        app.conf.effective()


def test_broker_use_ssl_puts_the_broker_on_tls_with_its_options():
    import ssl

    from taskora.compat import Celery

    app = Celery("proj", broker="redis://cache.internal:6380/2",
                 broker_use_ssl={"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": "/etc/ssl/ca.pem"})
    effective = app.conf.effective()
    assert effective.broker_url == "rediss://cache.internal:6380/2"
    assert effective.connection_options == {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": "/etc/ssl/ca.pem"}
