"""A Redis outage is one WARNING line when it starts and one INFO line when it ends, per worker process,
however many tasks, slots and service threads the worker runs (issue #20)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskora.urls import mask_url

from ..cli.helpers import WorkerProcess, client_app
from ..redis_server import RedisServer
from ..waiting import wait_until

#: How long the server stays down: long enough for every thread to fail and back off several times.
OUTAGE_S = 6.0


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it stops and starts again."""
    server = RedisServer().start()
    yield server
    server.stop()


def _lines(worker: WorkerProcess, text: str) -> list[str]:
    return [line for line in worker.log().splitlines() if text in line]


def _live_through_an_outage(server: RedisServer, tmp_path: Path, *args: str) -> WorkerProcess:
    client = client_app(server.url)
    worker = WorkerProcess(server.url, tmp_path, *args)
    try:
        worker.wait_ready(client)
        assert client.dispatch("add", {"a": 1, "b": 2}).result(timeout=10) == 3
        server.stop()
        wait_until(lambda: _lines(worker, "Redis unreachable at"), 10, "the outage to be noticed")
        threading.Event().wait(OUTAGE_S)  # the outage itself: nothing to await while the server is down
        server.start()
        client.close()
        client = client_app(server.url)
        assert client.dispatch("add", {"a": 2, "b": 3}).result(timeout=20) == 5
        wait_until(lambda: _lines(worker, "Redis reachable again after"), 10, "the reconnection to be logged")
        return worker
    finally:
        client.close()
        worker.stop()


def test_an_outage_logs_one_warning_and_one_recovery_line(server: RedisServer, tmp_path: Path) -> None:
    # Given a worker with many threads (8 tasks, 4 slots each, heartbeat, maintenance, listeners)
    worker = _live_through_an_outage(server, tmp_path, "-P", "threads", "-c", "4")
    # Then the outage is one warning naming the (masked) address and one line when it ended
    lost = _lines(worker, "unreachable")
    assert lost == _lines(worker, f"Redis unreachable at {mask_url(server.url)}: "), worker.log()
    assert len(lost) == 1 and lost[0].rstrip().endswith("; retrying"), worker.log()
    back = _lines(worker, "Redis reachable again after")
    assert len(back) == 1, worker.log()
    assert float(back[0].split("after ")[1].split(" s")[0]) >= OUTAGE_S - 1, back


def test_a_prefork_pool_logs_the_outage_once_per_process(server: RedisServer, tmp_path: Path) -> None:
    # Given a supervisor and two children
    worker = _live_through_an_outage(server, tmp_path, "-P", "prefork", "-c", "2")
    # Then each process says it at most once: 3 lines at most, not one per thread and retry
    assert 1 <= len(_lines(worker, "unreachable")) <= 3, worker.log()
    assert 1 <= len(_lines(worker, "Redis reachable again after")) <= 3, worker.log()
