"""Every way to build an adapter, and key prefixes keeping apps apart in one Redis."""

from __future__ import annotations

import subprocess
import sys
import threading
from urllib.parse import urlparse

import pytest
import redis

from taskora import BrokerUnreachableError, ConfigurationError, Taskora
from taskora.errors import TaskoraError
from taskora.memory import memory_adapter
from taskora.redis import redis_adapter
from tests.redis_server import free_port


def _round_trip(app: Taskora) -> object:
    task = app.task("echo", lambda data: data)
    app.start()
    try:
        return task.dispatch({"ok": True}).result(timeout=10)
    finally:
        app.close()


def test_adapter_from_url(redis_url: str) -> None:
    assert _round_trip(Taskora(redis_adapter(redis_url))) == {"ok": True}


def test_adapter_from_options(redis_url: str) -> None:
    parsed = urlparse(redis_url)
    adapter = redis_adapter({"host": parsed.hostname, "port": parsed.port, "db": 0})
    assert _round_trip(Taskora(adapter)) == {"ok": True}


def test_options_override_the_connection_defaults(redis_url: str) -> None:
    adapter = redis_adapter({"url": redis_url, "socket_timeout": 2.5, "max_connections": 50})
    assert adapter.client.connection_pool.connection_kwargs["socket_timeout"] == 2.5
    assert adapter.client.connection_pool.max_connections == 50
    assert adapter.blocking.connection_pool.connection_kwargs["socket_timeout"] is None  # blocking reads wait
    assert _round_trip(Taskora(adapter)) == {"ok": True}


@pytest.mark.parametrize("build", ["client", "options"])
def test_an_idle_worker_waits_quietly_under_a_short_socket_timeout(redis_url: str, build: str) -> None:
    # An idle slot blocks on Redis between jobs; with a socket timeout shorter than that wait, each wait
    # used to end in a read timeout, taken for an unreachable Redis. Waits now stay under the timeout.
    target = redis.Redis.from_url(redis_url, socket_timeout=0.3) if build == "client" else \
        {"url": redis_url, "socket_timeout": 0.3}
    adapter = redis_adapter(target)
    assert adapter.longest_block_s < 0.3
    app = Taskora(adapter)
    task = app.task("patient", lambda n: n * 2)
    waits_ended, failures, three_waits = [], [], threading.Event()
    wait_then_claim = adapter.wait_then_claim

    def counted(*args: object, **kwargs: object) -> object:
        try:
            claimed = wait_then_claim(*args, **kwargs)
        except Exception as exc:
            failures.append(exc)
            raise
        waits_ended.append(claimed)
        if len(waits_ended) >= 3:
            three_waits.set()
        return claimed

    adapter.wait_then_claim = counted  # type: ignore[method-assign]
    app.start()
    try:
        assert three_waits.wait(10), f"the idle worker's waits failed: {failures}"
        assert failures == []
        assert task.dispatch(21).result(timeout=10) == 42
    finally:
        app.close()


def test_adapter_from_a_client(redis_url: str) -> None:
    assert _round_trip(Taskora(redis_adapter(redis.Redis.from_url(redis_url)))) == {"ok": True}


def test_url_and_none_shorthands(redis_url: str) -> None:
    assert _round_trip(Taskora(redis_url)) == {"ok": True}
    assert _round_trip(Taskora()) == {"ok": True}
    assert Taskora("memory://").adapter.kind == "memory"


def test_prefixes_keep_apps_apart(redis_url: str) -> None:
    a = Taskora(redis_adapter(redis_url, prefix="a"))
    b = Taskora(redis_adapter(redis_url, prefix="b"))
    a.task("same", lambda d: "from a")
    b.task("same", lambda d: "from b")
    handle = a.dispatch("same", None)

    assert b.adapter.counts("same")["waiting"] == 0
    assert redis.Redis.from_url(redis_url).exists("taskora:a:{same}:" + handle.id)
    a.start()
    assert handle.result(timeout=10) == "from a"
    a.close()


def test_in_memory_engines_are_private() -> None:
    one, two = Taskora(memory_adapter()), Taskora(memory_adapter())
    one.task("t", lambda d: d)
    two.task("t", lambda d: d)
    one.dispatch("t", 1)
    assert two.adapter.counts("t")["waiting"] == 0


def test_unreachable_broker_is_a_clear_error() -> None:
    app = Taskora(f"redis://127.0.0.1:{free_port()}/0")
    app.task("t", lambda d: d)

    with pytest.raises(BrokerUnreachableError, match="cannot reach Redis at redis://127.0.0.1"):
        app.start()
    assert issubclass(BrokerUnreachableError, TaskoraError)


def test_unsupported_broker_url_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="amqp"):
        Taskora("amqp://guest@localhost//")


def test_a_refused_broker_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        Taskora("amqp://guest:s3cret@rabbit:5672//")
    assert "s3cret" not in str(info.value) and "rabbit:5672" in str(info.value)


def test_a_redis_only_process_never_loads_the_in_memory_engine() -> None:
    """fakeredis is half of taskora's import time; a worker on Redis starts without it."""
    code = ("import sys, taskora; from taskora import Taskora; Taskora('redis://127.0.0.1:1/0'); "
            "print('fakeredis' in sys.modules); taskora.memory_adapter(); print('fakeredis' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_dispatch_many_survives_a_lost_script_cache(redis_url: str) -> None:
    """Batches go out on the thread's own connection; a Redis that forgot its scripts (restart, failover,
    SCRIPT FLUSH) answers NOSCRIPT without running them, and each batch is sent again, once."""
    app = Taskora(redis_url)
    try:
        task = app.task("flushed-batch", lambda d: d)
        task.dispatch_many([0])  # the scripts are loaded
        redis.Redis.from_url(redis_url).script_flush()
        handles = task.dispatch_many(list(range(250)))  # three script calls of up to 100 jobs
        assert [h.enqueued for h in handles] == [True] * 250
        assert app.adapter.counts("flushed-batch")["waiting"] == 251
    finally:
        app.close()
