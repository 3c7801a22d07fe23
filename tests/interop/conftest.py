"""Apps on a recording's prefix, on both engines, so a recorded TypeScript state can be restored into
the store a Python worker or producer then uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from taskora import Taskora
from taskora.memory import memory_adapter
from taskora.redis import redis_adapter


@pytest.fixture
def prefixed_app(adapter_kind: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Taskora]]:
    """``prefixed_app(prefix, clock=None, **options)``: an app on ``taskora:<prefix>:``; a second one shares
    the store."""
    apps: list[Taskora] = []

    def make(prefix: str, **options: Any) -> Taskora:
        clock = options.pop("clock", None)
        if adapter_kind == "redis":
            url = request.getfixturevalue("redis_url") if not apps else request.getfixturevalue("redis_server").url
            adapter = redis_adapter(url, prefix=prefix, clock=clock)
        elif apps:
            adapter = apps[0].adapter
        else:
            adapter = memory_adapter(prefix=prefix, clock=clock)
        app = Taskora(adapter, **options)
        apps.append(app)
        return app

    yield make
    for app in reversed(apps):
        app.close(timeout=5)
