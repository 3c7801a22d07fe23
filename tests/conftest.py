"""Fixtures: one real redis-server per test session, and the ``adapter`` fixture that runs every
behaviour test on both the Redis and the in-memory engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from taskora import Taskora
from taskora.memory import memory_adapter
from taskora.redis import redis_adapter

from .redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture(params=["redis", "memory"])
def adapter_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_app(adapter_kind: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Taskora]]:
    """Factory for apps on the parametrised engine; every app made is closed after the test."""
    apps: list[Taskora] = []

    def make(**options: Any) -> Taskora:
        """A second app shares the first one's store (``share=False``: a store of its own, memory only)."""
        clock, share = options.pop("clock", None), options.pop("share", True)
        if adapter_kind == "redis":
            url = request.getfixturevalue("redis_url") if not apps else request.getfixturevalue("redis_server").url
            adapter = redis_adapter(url, clock=clock)
        elif apps and share:
            adapter = apps[0].adapter
        else:
            adapter = memory_adapter(clock=clock)
        app = Taskora(adapter, **options)
        apps.append(app)
        return app

    yield make
    for app in reversed(apps):
        app.close(timeout=5)


@pytest.fixture
def app(make_app: Callable[..., Taskora]) -> Taskora:
    return make_app()
