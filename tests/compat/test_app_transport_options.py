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
