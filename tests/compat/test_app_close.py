"""``Celery.close()`` closes the Redis connections the app opened (its engine adapter is the app's own)."""

from __future__ import annotations

import pytest
import redis
from taskora.compat import Celery

from ..waiting import wait_until

pytestmark = pytest.mark.redis_only


def test_close_closes_the_connections_the_app_opened(redis_url: str) -> None:
    # Given a Celery app that sent a task and asked the workers over the control channel
    watcher = redis.Redis.from_url(redis_url)
    try:
        before = len(watcher.client_list())
        app = Celery("closing", broker=redis_url)

        @app.task
        def add(x: int, y: int) -> int:
            return x + y

        add.delay(1, 2)
        app.control.inspect(timeout=0.1).ping()
        assert len(watcher.client_list()) > before
        # When it is closed
        app.close()
        # Then its connections are gone at once, not left open until a garbage collection finds them (a socket
        # closed by the collector is a ResourceWarning in whatever test runs then)
        wait_until(lambda: len(watcher.client_list()) <= before, timeout=2.0)
    finally:
        watcher.close()
