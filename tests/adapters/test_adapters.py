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
from tests.adapters.engine_loss import forget_engine
from tests.redis_server import free_port


def _round_trip(app: Taskora) -> object:
    task = app.task("echo", lambda data: data)
    app.start()
    try:
        return task.dispatch({"ok": True}).result(timeout=10)
    finally:
        app.close()
        app.adapter.close()  # an adapter given to the app is the test's to close


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
        adapter.close()  # the test's own adapter: the app leaves it open


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
    with redis.Redis.from_url(redis_url) as direct:
        assert direct.exists("taskora:a:{same}:" + handle.id)
    a.start()
    assert handle.result(timeout=10) == "from a"
    a.close()
    for app in (a, b):  # adapters given to the apps are the test's to close
        app.adapter.close()


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


@pytest.mark.parametrize("functions", ["1", "0"], ids=["function-library", "evalsha"])
def test_dispatch_many_survives_a_server_that_lost_the_engine(redis_url: str, functions: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Batches go out on the thread's own connection; a Redis that forgot the engine (restart, failover, SCRIPT
    or FUNCTION FLUSH) answers NOSCRIPT or "Function not found" without running it, and each batch is sent again,
    once."""
    monkeypatch.setenv("TASKORA_REDIS_FUNCTIONS", functions)
    app = Taskora(redis_url)
    try:
        task = app.task("flushed-batch", lambda d: d)
        task.dispatch_many([0])  # the engine is loaded
        forget_engine(redis_url)
        handles = task.dispatch_many(list(range(250)))  # three script calls of up to 100 jobs
        assert [h.enqueued for h in handles] == [True] * 250
        assert app.adapter.counts("flushed-batch")["waiting"] == 251
    finally:
        app.close()


# -- the adapter contract (taskora/adapters/base.py) ---------------------------------------------------------------
def _contract_members() -> dict[str, object]:
    from taskora.adapters.base import Adapter

    concerns = [cls for cls in Adapter.__mro__ if cls.__module__ == Adapter.__module__]
    return {name: value for cls in concerns for name, value in vars(cls).items()
            if callable(value) and not name.startswith("_")}


@pytest.mark.parametrize("kind", ["redis", "memory"])
def test_each_adapter_has_every_contract_operation_with_its_parameters(kind: str) -> None:
    import inspect

    from taskora.adapters.memory import MemoryAdapter
    from taskora.adapters.redis import RedisAdapter

    cls = RedisAdapter if kind == "redis" else MemoryAdapter
    members = _contract_members()
    assert len(members) > 60
    for name, declared in members.items():
        implemented = getattr(cls, name, None)
        assert implemented is not None, f"{cls.__name__} lacks {name}"
        assert list(inspect.signature(implemented).parameters) == list(inspect.signature(declared).parameters), name


def test_the_old_import_places_still_work() -> None:
    from taskora.adapters import base
    from taskora.adapters.redis import (
        CONNECTION_ERRORS,
        BatchResult,
        ClaimedJob,
        ClaimInFlight,
        ClaimResult,
        Completion,
        EnqueueRequest,
        RedisAdapter,
        decode_job,
    )
    from taskora.workflow.store import KEEP_FINISHED_MS, OpenNode, ReadyNode

    assert (ClaimedJob, ClaimResult, Completion, BatchResult, EnqueueRequest) == (
        base.ClaimedJob, base.ClaimResult, base.Completion, base.BatchResult, base.EnqueueRequest)
    assert (OpenNode, ReadyNode, KEEP_FINISHED_MS, CONNECTION_ERRORS) == (
        base.OpenNode, base.ReadyNode, base.KEEP_FINISHED_MS, base.CONNECTION_ERRORS)
    assert callable(decode_job) and ClaimInFlight.result and RedisAdapter.enqueue_many


def test_saved_groups_round_trip_and_expire(app: Taskora) -> None:
    adapter = app.adapter
    assert adapter.group_load("g1") is None
    adapter.group_save("g1", '["a", "b"]', None)
    assert adapter.group_load("g1") == '["a", "b"]'
    adapter.group_save("g2", "[]", 60_000)
    assert 0 < adapter.client.pttl(adapter.keys.group_result("g2")) <= 60_000
    assert adapter.group_delete("g1") is True
    assert adapter.group_delete("g1") is False and adapter.group_load("g1") is None


def test_once_only_marks_let_exactly_one_caller_through(app: Taskora) -> None:
    adapter = app.adapter
    assert adapter.mark_job_once("t", "j1", "revoked-signal", 60) is True
    assert adapter.mark_job_once("t", "j1", "revoked-signal", 60) is False
    assert adapter.mark_job_once("t", "j2", "revoked-signal", 60) is True  # per job
    assert 0 < adapter.client.ttl(adapter.keys.task_prefix("t") + "j1:revoked-signal") <= 60


def test_delayed_head_lists_the_soonest_delayed_jobs(app: Taskora) -> None:
    task = app.task("later", lambda data: data)
    for delay in (30_000, 10_000, 20_000):
        task.dispatch({}, delay=delay)
    head = app.adapter.delayed_head("later", 2)
    assert len(head) == 2 and head[0][1] < head[1][1]
    assert [due for _id, due in head] == sorted(due for _id, due in app.adapter.delayed_head("later", 10))[:2]
    assert app.adapter.delayed_head("later", 0) == []


def test_control_replies_are_published_collected_and_forgotten(app: Taskora) -> None:
    adapter = app.adapter
    pubsub = adapter.pubsub()
    pubsub.subscribe(adapter.keys.control_channel)
    assert adapter.control_publish('{"command": "ping"}') == 1
    adapter.control_reply("r1", '{"hostname": "w1"}', 30)
    assert 0 < adapter.client.ttl(adapter.keys.control_reply("r1")) <= 30
    assert adapter.control_wait_reply("r1", 1.0) in (b'{"hostname": "w1"}', '{"hostname": "w1"}')
    assert adapter.control_wait_reply("r1", 0.05) is None  # nothing more came
    adapter.control_reply("r1", "{}", 30)
    adapter.control_forget("r1")
    assert adapter.client.exists(adapter.keys.control_reply("r1")) == 0
    pubsub.close()
