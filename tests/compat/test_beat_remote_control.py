# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Beat with ``beat_enable_remote_control``: it answers ``ping`` as ``celerybeat@host`` while its loop ticks and
falls silent once the loop wedges (Celery 5.7's ``BeatPidbox``), on both engines."""

from __future__ import annotations

import threading
import uuid

import pytest
from taskora.compat import beat

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def beat_node(make_celery):
    """A beat Service with remote control, ticking in a thread: ``(app, service, node name)``."""
    app = make_celery()
    app.conf.beat_enable_remote_control = True
    app.conf.beat_remote_control_max_tick_age = 1.0
    app.conf.beat_schedule = {}
    service = beat.Service(app=app, max_interval=0.2, scheduler_cls="celery.beat:Scheduler",
                           hostname=f"celerybeat-{uuid.uuid4().hex[:8]}@%h")
    thread = threading.Thread(target=service.start, daemon=True)
    thread.start()
    node = beat.beat_nodename(service.hostname)
    try:
        wait_until(lambda: app.control.ping(destination=[node], timeout=1), 20, f"{node} answering ping")
        yield app, service, node
    finally:
        service.stop()
        thread.join(10)


def test_beat_nodename_fills_in_the_name_and_host():
    assert beat.beat_nodename("myhost") == "celerybeat@myhost"
    assert beat.beat_nodename("b1@%h").startswith("b1@") and "%h" not in beat.beat_nodename("b1@%h")


def test_a_ticking_beat_answers_ping_and_nothing_else(beat_node):
    app, _, node = beat_node
    for _ in range(3):
        assert app.control.ping(destination=[node], timeout=2) == [{node: {"ok": "pong"}}]
    assert app.control.inspect(destination=[node], timeout=0.5).active() is None


def test_a_wedged_beat_falls_silent_and_answers_again_once_it_ticks(beat_node):
    app, service, node = beat_node
    released = threading.Event()
    real_tick = service.scheduler.tick

    def wedged_tick(*args, **kwargs):
        released.wait()
        service.scheduler.tick = real_tick
        return 0.2

    service.scheduler.tick = wedged_tick
    try:
        wait_until(lambda: app.control.ping(destination=[node], timeout=0.5) == [], 20, "beat falling silent")
    finally:
        released.set()
    wait_until(lambda: app.control.ping(destination=[node], timeout=0.5), 20, "beat answering again")


def test_remote_control_is_off_by_default(make_celery):
    service = beat.Service(app=make_celery())
    assert not service.remote_control and service._pidbox is None
