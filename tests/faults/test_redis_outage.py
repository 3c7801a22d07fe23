"""An outcome that cannot be written while Redis is unreachable is kept and written once Redis is back,
while the job's lock is still ours: the job does not run again, and no other worker takes it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from taskora import Taskora

from ..redis_server import RedisServer
from ..waiting import wait_until


@pytest.fixture
def durable_server() -> Iterator[RedisServer]:
    """A redis-server that keeps every write across a kill (append-only file, fsync always)."""
    server = RedisServer(extra_args=("--appendonly", "yes", "--appendfsync", "always")).start()
    yield server
    server.stop()


def test_an_outcome_written_during_an_outage_lands_when_redis_is_back(durable_server: RedisServer) -> None:
    release, runs = threading.Event(), []

    def held(data: int) -> int:
        runs.append(data)
        release.wait(30)
        return data * 2

    apps = [Taskora(durable_server.url) for _ in range(2)]
    for app in apps:
        app.task("held", held)
    try:
        apps[0].start()
        handle = apps[0].dispatch("held", 21)
        wait_until(lambda: runs, 10, "the job to start")
        apps[1].start()  # an idle second worker, which must not take the job over after the outage
        # When Redis goes away for longer than a worker's liveness key lasts, and the handler ends meanwhile
        durable_server.stop()
        release.set()
        threading.Event().wait(3.0)  # the outage itself: nothing to await while the server is down
        durable_server.start()
        # Then the outcome kept by the worker is written: the job completes, having run once
        assert handle.result(timeout=20) == 42
        assert runs == [21]
        job = apps[0].adapter.get_job("held", handle.id)
        assert "lostCount" not in job and "stalledCount" not in job, job
    finally:
        for app in apps:
            app.close(timeout=5)
