"""A Redis that goes silent (no FIN, no RST: a suspended VM, a firewall dropping the flow) cannot hold a
worker's shutdown: every read on an open socket would wait for its timeout, or forever on a blocking one.
The stop takes Redis for gone once it does not answer the stop's wake, cuts the connections, and exits.
(Celery's t/integration/test_connection_recovery.py pins the same bound on Celery's own consumer.)"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskora import Taskora

from ..cli.helpers import WorkerProcess
from ..redis_server import RedisServer
from .silent_proxy import SilentProxy

#: Well under the 30 s a single read waits on a silent peer by default (a stop took minutes before).
STOP_BOUND_S = 20.0


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[SilentProxy]:
    relay = SilentProxy(redis_server.port)
    yield relay
    relay.close()


@pytest.mark.parametrize("pool", ["threads", "prefork"])
@pytest.mark.parametrize("signals", [1, 2], ids=["warm", "cold"])
def test_a_worker_stops_promptly_when_redis_goes_silent(proxy: SilentProxy, redis_url: str, tmp_path: Path,
                                                        pool: str, signals: int) -> None:
    client = Taskora(redis_url)
    worker = WorkerProcess(proxy.url, tmp_path, "-P", pool, "-c", "2")
    try:
        worker.wait_ready(client)
        proxy.silence()
        for _ in range(signals):
            worker.signal(signal.SIGTERM)
        assert worker.wait_exit(STOP_BOUND_S) == 0, worker.log()
        assert "cutting its connections" in worker.log()
    finally:
        worker.stop()
        client.close()
