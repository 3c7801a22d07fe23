"""Publishing against a broker that cannot be reached raises kombu's OperationalError, as Celery does."""

from __future__ import annotations

import socket

import kombu.exceptions
import pytest
from taskora.compat import Celery
from taskora.compat.exceptions import OperationalError


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_app():
    port = _closed_port()
    app = Celery("proj", broker=f"redis://:secret@127.0.0.1:{port}/0")
    yield app, port
    app.close()


def test_delay_to_an_unreachable_broker_raises_kombus_operational_error(dead_app):
    app, port = dead_app

    @app.task
    def add(x, y):
        return x + y

    # Celery projects catch the kombu class (an import path the migration does not rewrite)
    with pytest.raises(kombu.exceptions.OperationalError) as info:
        add.delay(1, 2)
    assert isinstance(info.value, OperationalError)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "secret" not in message


def test_apply_async_and_send_task_translate_too(dead_app):
    app, port = dead_app

    @app.task
    def ping():
        return "pong"

    with pytest.raises(kombu.exceptions.OperationalError, match=f"127.0.0.1:{port}"):
        ping.apply_async(countdown=5, queue="other")
    with pytest.raises(kombu.exceptions.OperationalError, match=f"127.0.0.1:{port}"):
        app.send_task("remote.task", args=(1,))
