"""Shared helpers for the Celery front tests: a Celery app on the parametrised engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from taskora.compat import Celery


@pytest.fixture
def make_celery(adapter_kind: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Celery]]:
    """``make_celery(**settings)``: a Celery app on redis-server or the in-memory engine, closed after."""
    apps: list[Celery] = []

    def make(**settings: Any) -> Celery:
        broker = request.getfixturevalue("redis_url") if adapter_kind == "redis" else "memory://"
        app = Celery("proj", broker=broker, **settings)
        apps.append(app)
        return app

    yield make
    for app in reversed(apps):
        app.close()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``predicate`` until truthy (state written by a worker thread), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")
