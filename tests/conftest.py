"""Fixtures: one real redis-server per test session, and the ``adapter`` fixture that runs every
behaviour test on both the Redis and the in-memory engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from taskora import Taskora
from taskora.memory import memory_adapter
from taskora.redis import redis_adapter

from .redis_cluster import RedisCluster, RedisSentinels
from .redis_server import RedisServer

#: Test modules whose ``adapter_kind`` tests also run on the 6-node Redis Cluster (the "cluster" parameter);
#: elsewhere that parameter is deselected. Why the rest is left out, module by module, is in
#: docs/guide/connecting.md ("What the test suite runs on a cluster"): mostly time (the suite's budget
#: for the cluster is ~2 minutes) and tests of single-Redis mechanics (direct connections, fused calls).
#: Paths are relative to tests/; a path naming no file fails the session at once (a moved module would
#: otherwise silently stop running on the cluster).
CLUSTER_SUITE = {"worker/test_worker_behaviour.py", "api/test_dispatch.py", "workflow/test_workflow.py",
                 "scheduler/test_scheduler.py", "api/test_retry.py", "adapters/test_adapters.py",
                 "adapters/test_wait_then_claim.py", "adapters/test_topology.py", "adapters/test_monitor_events.py",
                 "worker/test_own_wake.py"}
TESTS = Path(__file__).resolve().parent
_missing = sorted(path for path in CLUSTER_SUITE if not (TESTS / path).is_file())
if _missing:
    raise pytest.UsageError(f"CLUSTER_SUITE in tests/conftest.py names no test module at {', '.join(_missing)}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 6-node cluster (3 masters, 3 replicas), started the first time a test needs it (~2 s)."""
    cluster = RedisCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> str:
    redis_cluster.wait_healthy()  # a failover test may have left a node down: its replica serves the slots
    redis_cluster.flushall()
    return redis_cluster.url


@pytest.fixture(scope="session")
def redis_sentinels() -> Iterator[RedisSentinels]:
    """A master, a replica and three sentinels (``mymaster``), started the first time a test needs them."""
    sentinels = RedisSentinels().start()
    yield sentinels
    sentinels.stop()


@pytest.fixture(params=["redis", "memory", pytest.param("cluster", marks=pytest.mark.cluster)])
def adapter_kind(request: pytest.FixtureRequest) -> str:
    return request.param


def _under_tests(path: Path) -> str:
    """``path`` relative to tests/, as CLUSTER_SUITE names modules (``api/test_dispatch.py``)."""
    resolved = path.resolve()
    return resolved.relative_to(TESTS).as_posix() if resolved.is_relative_to(TESTS) else resolved.name


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the "cluster" parameter only in CLUSTER_SUITE modules, and not on tests marked ``no_cluster``."""
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None)
        on_cluster = params is not None and params.params.get("adapter_kind") == "cluster"
        excluded = _under_tests(item.path) not in CLUSTER_SUITE or item.get_closest_marker("no_cluster") is not None
        (drop if on_cluster and excluded else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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
        elif adapter_kind == "cluster":
            url = request.getfixturevalue("cluster_url") if not apps else request.getfixturevalue("redis_cluster").url
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
