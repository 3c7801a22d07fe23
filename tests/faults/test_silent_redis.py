"""A Redis that goes silent (no FIN, no RST: a suspended VM, a firewall dropping the flow) cannot hold a
worker's shutdown: every read on an open socket would wait for its timeout, or forever on a blocking one.
The stop takes Redis for gone once it does not answer the stop's wake, cuts the connections, and exits.
(Celery's t/integration/test_connection_recovery.py pins the same bound on Celery's own consumer.)"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskora import Taskora
from taskora.worker.pools import StopSignals
from taskora.worker.reconnect import OUTAGE, address_of
from taskora.worker.stop_wake import CUT_TIMEOUT_S, start_unless_stopped

from ..cli.helpers import WorkerProcess
from ..redis_server import RedisServer
from ..waiting import wait_until
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


def test_a_stop_ends_a_start_that_a_silent_redis_holds(proxy: SilentProxy, caplog: pytest.LogCaptureFixture) -> None:
    """A prefork child may still be connecting when the stop comes (its supervisor is ready once the children
    are forked). The stop cuts its connections at once: the start's read no longer waits out its 30 s socket
    timeout (a child held its worker's stop 22 s that way: the prefork case above failed 1 CI run, 3 local
    runs in 5). What its cut breaks is the cut's: its listeners' failures are no outage to warn about."""
    app = Taskora(proxy.url)
    signals = StopSignals(repeat_term=False)  # not installed: request_stop() is what the child's SIGTERM does
    proxy.silence()

    def stop_once_connecting() -> None:
        wait_until(lambda: proxy.relayed() > 0, what="the start to connect through the silent relay")
        signals.request_stop()

    threading.Thread(target=stop_once_connecting, daemon=True).start()
    began = time.monotonic()
    try:
        with caplog.at_level(logging.DEBUG, logger="taskora.worker"):
            assert start_unless_stopped(app.adapter.connect, app.adapter, signals) is False
            assert time.monotonic() - began < 10 * CUT_TIMEOUT_S
            OUTAGE.lost(address_of(app.adapter), ConnectionError("Connection closed by server."))  # a listener's read
        assert not [r for r in caplog.records if "unreachable" in r.getMessage()]  # the cut's, no outage
    finally:
        OUTAGE.reset()
        app.close(timeout=1)
