"""``Celery.close()`` closes the Redis connections the app opened (its engine adapter is the app's own)."""

from __future__ import annotations

import pytest
import redis
from taskora.compat import Celery

from ..waiting import wait_until

pytestmark = pytest.mark.redis_only


def _client_ids(watcher: redis.Redis) -> set[str]:
    """The ids of the connections Redis has open now (ids are never reused, so a set difference is exact even
    while an earlier test's connections are still going away)."""
    return {str(client["id"]) for client in watcher.client_list()}


def test_close_closes_the_connections_the_app_opened(redis_url: str) -> None:
    # Given a Celery app that sent a task and asked the workers over the control channel
    watcher = redis.Redis.from_url(redis_url)
    try:
        before = _client_ids(watcher)
        app = Celery("closing", broker=redis_url)

        @app.task
        def add(x: int, y: int) -> int:
            return x + y

        add.delay(1, 2)
        app.control.inspect(timeout=0.1).ping()
        opened = _client_ids(watcher) - before
        assert opened
        # When it is closed
        app.close()
        # Then its connections are gone at once, not left open until a garbage collection finds them (a socket
        # closed by the collector is a ResourceWarning in whatever test runs then)
        wait_until(lambda: not opened & _client_ids(watcher), timeout=2.0,
                   what=f"the app's connections {sorted(opened)} to close")
    finally:
        watcher.close()
