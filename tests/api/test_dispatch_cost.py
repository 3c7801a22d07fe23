"""bench/dispatch_cost.py against a real redis-server: what it reports per dispatch, and the one fact
its figures rest on, that a dispatch is one script call (native and the Celery front, single and bulk).

It FLUSHALLs the server it measures, so it gets a throw-away one, not the session's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.dispatch_cost import measure
from tests.redis_server import RedisServer


@pytest.fixture(scope="module")
def own_redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@pytest.mark.parametrize("row", ["native-ignored", "compat-stored"])
def test_one_dispatch_is_one_script_call_and_its_costs_are_reported(own_redis_url: str, row: str) -> None:
    report = measure(own_redis_url, row, calls=200, bulk=False, profile=False)
    assert report["jobs"] == 200
    assert report["scripts"] == 1.0  # one round trip, one script per job
    assert report["cmds"]["xadd"] == 1.0  # and one lifecycle event
    assert report["cpu_us"] > 0 and report["wall_us"] >= report["redis_us"] / 2 > 0 and report["script_us"] > 0


def test_bulk_rows_count_jobs_not_calls(own_redis_url: str) -> None:
    report = measure(own_redis_url, "native-ignored", calls=400, bulk=True, profile=False)
    assert report["jobs"] == 400
    assert report["scripts"] == 0.01  # one enqueue_many call per 100 jobs
    assert report["cmds"]["hset"] == 1.0
