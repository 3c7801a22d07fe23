"""The wire handshake once per connection (#19): a connection an adapter opens after its first handshake checks
``taskora:meta`` before its first command, so a store that changed behind a running adapter (Redis restarted
with another store, a failover, connections dropped while the store was replaced) is refused with
SchemaVersionMismatchError before anything is written; a connection that stays open is never checked again.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import redis

from taskora import SchemaVersionMismatchError, Task, Taskora
from taskora.adapters.connection_check import ConnectionCheck
from taskora.redis import redis_adapter
from tests.redis_cluster import RedisCluster, RedisSentinels
from tests.redis_server import RedisServer, free_port
from tests.waiting import wait_until

#: What TypeScript's wire-7 recording (23-version-mismatch) leaves in ``taskora:meta``.
NEWER = {"wireVersion": "7", "minCompat": "7", "writtenBy": "taskora-wire-7"}


def task_of(app: Taskora, name: str) -> Task[Any, Any]:
    """The app's task ``name``, registered on first use."""
    return app.tasks[name] if name in app.tasks else app.task(name, lambda d: d)


def keys_under(client: redis.Redis, prefix: str) -> set[str]:
    return {k.decode() for k in client.keys(f"taskora:{prefix}:*")}


def dispatched_once_then_store_replaced(app: Taskora, prefix: str, nodes: list[redis.Redis]) -> None:
    """A first dispatch (the adapter handshakes), then the store turns into a wire-7 one and every
    connection to it drops, as when a Redis restarts from another deployment's snapshot."""
    task_of(app, "add").dispatch({"x": 1})
    for node in nodes:
        for key in node.keys(f"taskora:{prefix}:*"):
            node.delete(key)
    meta = app.adapter.keys.meta
    if len(nodes) == 1:
        nodes[0].hset(meta, mapping=NEWER)
    else:
        with _cluster_writer(nodes) as writer:
            writer.hset(meta, mapping=NEWER)
    for node in nodes:
        node.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")


def _cluster_writer(nodes: list[redis.Redis]) -> redis.RedisCluster:
    pool = nodes[0].connection_pool.connection_kwargs
    return redis.RedisCluster(host=pool["host"], port=pool["port"])


def refused_and_nothing_written(app: Taskora, prefix: str, readers: list[redis.Redis]) -> None:
    add, many = task_of(app, "add"), task_of(app, "many")
    with pytest.raises(SchemaVersionMismatchError, match="theirs_too_new"):
        add.dispatch({"x": 2})
    with pytest.raises(SchemaVersionMismatchError, match="theirs_too_new"):
        many.dispatch_many([{"x": 3}, {"x": 4}])
    written = set().union(*(keys_under(r, prefix) for r in readers))
    assert written == {app.adapter.keys.meta}, "a write went through before the new store was checked"


def handshakes(client: redis.Redis) -> int:
    """Scripts a restarted server ran: only handshakes, while every write is refused."""
    stats = client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("eval", "evalsha"))


@pytest.fixture
def prefix() -> str:
    return f"conn{uuid.uuid4().hex[:8]}"


def test_a_redis_restarted_with_a_newer_store_is_refused_at_the_next_dispatch(prefix: str) -> None:
    with RedisServer() as server:
        app = Taskora(redis_adapter(server.url, prefix=prefix))
        try:
            task_of(app, "add").dispatch({"x": 1})
            server.restart()  # no persistence: it comes back empty, then another deployment writes its meta
            with redis.Redis.from_url(server.url) as direct:
                direct.hset(app.adapter.keys.meta, mapping=NEWER)
                refused_and_nothing_written(app, prefix, [direct])
        finally:
            app.close(timeout=5)


def test_a_redis_restarted_empty_gets_its_meta_back_from_the_next_dispatch(prefix: str) -> None:
    with RedisServer() as server:
        app = Taskora(redis_adapter(server.url, prefix=prefix))
        try:
            add = app.task("add", lambda d: d)
            add.dispatch({"x": 1})
            server.restart()

            add.dispatch({"x": 2})
            with redis.Redis.from_url(server.url, decode_responses=True) as direct:
                meta = direct.hgetall(app.adapter.keys.meta)
            assert meta["wireVersion"] == "6", "the reconnected connection did not handshake on the empty store"
        finally:
            app.close(timeout=5)


def test_an_open_connection_is_not_checked_again_but_a_new_one_is(redis_url: str, prefix: str) -> None:
    app = Taskora(redis_adapter(redis_url, prefix=prefix))
    direct = redis.Redis.from_url(redis_url)
    try:
        add = app.task("add", lambda d: d)
        add.dispatch({"x": 1})
        direct.delete(app.adapter.keys.meta)
        for n in range(50):
            add.dispatch({"x": n})
        assert not direct.exists(app.adapter.keys.meta), "a reused connection handshook again"

        direct.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        add.dispatch({"x": 99})
        assert direct.exists(app.adapter.keys.meta), "a new connection wrote before handshaking"
    finally:
        app.close(timeout=5)
        app.adapter.close()  # an adapter given to the app is the test's to close
        direct.close()


def test_an_adapter_that_only_reads_never_writes_meta_on_reconnect(redis_url: str, prefix: str) -> None:
    app = Taskora(redis_adapter(redis_url, prefix=prefix))
    direct = redis.Redis.from_url(redis_url)
    try:
        app.task("add", lambda d: d)
        app.inspect().stats()
        direct.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
        app.inspect().stats()
        assert not direct.exists(app.adapter.keys.meta)
    finally:
        app.close(timeout=5)
        app.adapter.close()  # an adapter given to the app is the test's to close
        direct.close()


@pytest.fixture
def cluster_nodes(cluster_url: str, redis_cluster: RedisCluster) -> Iterator[list[redis.Redis]]:
    nodes = [redis.Redis(port=node.port) for node in redis_cluster.masters()]
    yield nodes
    for node in nodes:
        node.close()


@pytest.mark.cluster
def test_a_cluster_whose_store_changed_while_connections_were_down_is_refused(
        cluster_url: str, cluster_nodes: list[redis.Redis], prefix: str) -> None:  # fmt: skip
    app = Taskora(redis_adapter(cluster_url, prefix=prefix))
    try:
        dispatched_once_then_store_replaced(app, prefix, cluster_nodes)
        refused_and_nothing_written(app, prefix, cluster_nodes)
    finally:
        app.close(timeout=5)


@pytest.mark.cluster
def test_a_new_cluster_connection_whose_meta_node_cannot_answer_is_checked_through_the_cluster_client(
        cluster_url: str, cluster_nodes: list[redis.Redis], prefix: str) -> None:  # fmt: skip
    """The node holding ``taskora:meta`` unreachable from the check (a failover, a connection that died): the check
    asks the cluster client, and refuses the replaced store, rather than letting the connection through unchecked."""
    app = Taskora(redis_adapter(cluster_url, prefix=prefix))
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=1)  # nothing listens there
    try:
        dispatched_once_then_store_replaced(app, prefix, cluster_nodes)
        adapter = app.adapter
        meta_node = SimpleNamespace(name="127.0.0.1:1", redis_connection=unreachable)
        check = ConnectionCheck(adapter.wire_gate, adapter.scripts.handshake, adapter.keys.meta,
                                adapter.handshake_arguments, lambda: meta_node, adapter.client)  # fmt: skip
        with pytest.raises(SchemaVersionMismatchError, match="theirs_too_new"):
            check.verify(lambda *command: pytest.fail(f"sent {command[0]} on the new connection"), "127.0.0.1:2")
    finally:
        app.close(timeout=5)
        unreachable.close()


@pytest.mark.cluster
def test_inside_a_topology_refresh_a_new_connection_is_checked_on_itself_never_through_the_cluster_client(
        cluster_url: str, cluster_nodes: list[redis.Redis], prefix: str) -> None:  # fmt: skip
    """The refresh holds the lock every command waits on: asking the cluster client from inside it nested that
    client's retries in the refresh's, per node, and hung a worker past 120 s while meta's node was down. There the
    new connection's own node answers when it holds meta, and a connection to any other node is refused at once."""
    app = Taskora(redis_adapter(cluster_url, prefix=prefix))
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=1)  # meta's node as the stale map says
    try:
        task_of(app, "add").dispatch({"x": 1})  # the first handshake: the check is armed from here on
        adapter = app.adapter
        owner_port = adapter.client.get_node_from_key(adapter.keys.meta).port
        owner = next(n for n in cluster_nodes if n.connection_pool.connection_kwargs["port"] == owner_port)
        other = next(n for n in cluster_nodes if n is not owner)
        refreshing = SimpleNamespace(nodes_manager=SimpleNamespace(_initializing_thread_id=threading.get_ident()),
                                     execute_command=lambda *c: pytest.fail("asked the cluster client in its refresh"))
        check = ConnectionCheck(adapter.wire_gate, adapter.scripts.handshake, adapter.keys.meta,
                                adapter.handshake_arguments, lambda: SimpleNamespace(name="127.0.0.1:1",
                                redis_connection=unreachable), refreshing)  # fmt: skip
        check.verify(owner.execute_command, f"127.0.0.1:{owner_port}")  # it holds meta: checked on itself
        with pytest.raises(redis.ConnectionError, match="during a topology refresh"):
            check.verify(other.execute_command, "127.0.0.1:2")
    finally:
        app.close(timeout=5)
        unreachable.close()


def test_a_sentinel_master_whose_store_changed_while_connections_were_down_is_refused(
        redis_sentinels: RedisSentinels, prefix: str) -> None:  # fmt: skip
    app = Taskora(redis_adapter(redis_sentinels.url, prefix=prefix))
    master = redis.Redis(port=redis_sentinels.master_port())
    try:
        dispatched_once_then_store_replaced(app, prefix, [master])
        refused_and_nothing_written(app, prefix, [master])
    finally:
        app.close(timeout=5)
        master.close()


def test_a_running_worker_writes_nothing_to_a_replaced_store_and_still_closes(
        prefix: str, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """It waits as for an outage, but logs once, at ERROR, that the store behind its URL changed (the URL's
    password masked), rather than "Redis unreachable"."""
    with RedisServer(extra_args=("--requirepass", "s3cret")) as server:
        url = server.url.replace("redis://", "redis://:s3cret@")
        app = Taskora(redis_adapter(url, prefix=prefix))
        add = task_of(app, "add")
        app.start()
        try:
            assert add.dispatch({"x": 1}).result(timeout=10) == {"x": 1}
            server.restart()
            with redis.Redis.from_url(url) as direct:
                direct.hset(app.adapter.keys.meta, mapping=NEWER)
                # connections the worker opened between the restart and that write found an empty store: drop them
                direct.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
                with pytest.raises(SchemaVersionMismatchError):
                    add.dispatch({"x": 2})
                wait_until(lambda: handshakes(direct) >= 3, what="the worker's threads to reconnect and be refused")
                wait_until(lambda: store_changed_lines(caplog), what="the worker to log that the store changed")
        finally:
            app.close(timeout=5)  # refused connections read as an outage: closing does not raise
        with redis.Redis.from_url(url) as direct:
            assert keys_under(direct, prefix) == {app.adapter.keys.meta}
    masked = f"redis://:****@127.0.0.1:{server.port}/0"
    assert store_changed_lines(caplog) == [f"the store behind {masked} changed: theirs_too_new: this process speaks "
                                           "wire versions 6..6, the store was written for 7..7 by taskora-wire-7; "
                                           "writing nothing to it, waiting for it to be put right"]  # fmt: skip
    assert not [r for r in caplog.records if "unreachable" in r.getMessage() and "theirs_too_new" in r.getMessage()]
    assert "s3cret" not in caplog.text


def store_changed_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The worker's ERROR lines saying the store behind its URL changed."""
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.ERROR and r.getMessage().startswith("the store behind ")]  # fmt: skip


def test_a_users_client_keeps_its_own_connect_hook_and_gets_the_check_too(redis_url: str, prefix: str) -> None:
    set_up: list[int] = []

    def named(connection: Any) -> None:  # the user's own set-up of each connection
        connection.on_connect()
        set_up.append(connection.port)

    client = redis.Redis.from_url(redis_url, redis_connect_func=named)
    app = Taskora(redis_adapter(client, prefix=prefix))
    direct = redis.Redis.from_url(redis_url)
    try:
        dispatched_once_then_store_replaced(app, prefix, [direct])
        before = len(set_up)
        refused_and_nothing_written(app, prefix, [direct])
        assert len(set_up) > before, "the user's connect hook did not run on the new connections"
    finally:
        app.close(timeout=5)
        app.adapter.close()  # an adapter given to the app is the test's to close
        direct.close()



@pytest.mark.cluster
def test_a_result_waiter_never_takes_a_replaced_stores_result_for_its_job(
        cluster_url: str, cluster_nodes: list[redis.Redis], prefix: str) -> None:  # fmt: skip
    """The blocking client's connections (on a cluster: event streams; everywhere: control replies and
    subscriptions) are checked too. No state transition goes through them, so a replaced store cannot make a
    job be lost or run twice that way; but a result waiter whose event stream reconnects to a replaced store
    would take that store's completed event for a job of the same id ("order-1") as its own result."""
    app = Taskora(redis_adapter(cluster_url, prefix=prefix))
    outcome: list[object] = []
    try:
        handle = task_of(app, "add").dispatch({"x": 1}, job_id="order-1")  # no worker here: it stays waiting
        waiter = threading.Thread(target=lambda: outcome.append(_result_or_error(handle)), daemon=True)
        waiter.start()
        with _cluster_writer(cluster_nodes) as store:
            wait_until(lambda: _blocked_on_xread(cluster_nodes), what="the waiter to block on its event stream")
            store.hset(app.adapter.keys.meta, mapping=NEWER)  # the store is replaced while connections are down
            for node in cluster_nodes:
                node.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
            store.xadd(app.adapter.keys.events("add"), {"event": "completed", "jobId": "order-1",
                                                         "result": '{"theirs": 9}'})  # fmt: skip
        waiter.join(30)
        reads_after = [_state_or_error(handle) for _ in range(5)]
    finally:
        app.close(timeout=5)
    assert len(outcome) == 1 and isinstance(outcome[0], SchemaVersionMismatchError), outcome
    # no connection the checks opened is left to read the replaced store unchecked (one did, 1 read in 6 runs)
    assert all(isinstance(each, SchemaVersionMismatchError) for each in reads_after), reads_after


def _blocked_on_xread(nodes: list[redis.Redis]) -> bool:
    return any(c["cmd"] == "xread" for node in nodes for c in node.client_list())


def _state_or_error(handle: Any) -> object:
    try:
        return handle.state()
    except Exception as exc:  # the refusal is the test's subject
        return exc


def _result_or_error(handle: Any) -> object:
    try:
        return handle.result(timeout=3)
    except Exception as exc:  # what the waiter ends with is the test's subject
        return exc


def test_a_slot_that_reconnects_to_a_replaced_store_waits_it_out_and_runs_again_once_put_right(
        redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """A slot whose connection dropped handshakes again through the command client; when that client's connection
    was opened before the store changed, the refusal comes as a plain SchemaVersionMismatchError. The slot
    waits it out as an outage (it used to crash, leaving the task without a slot) and runs jobs again once
    ``taskora:meta`` is put right."""
    caplog.set_level(logging.DEBUG, logger="taskora.worker")
    app = Taskora(redis_adapter(redis_url, prefix=prefix))
    add = task_of(app, "add")
    app.start()
    direct = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert add.dispatch({"x": 1}).result(timeout=10) == {"x": 1}
        ours = direct.hgetall(app.adapter.keys.meta)
        direct.hset(app.adapter.keys.meta, mapping=NEWER)  # open connections are not checked again
        slot = wait_until(lambda: [c for c in direct.client_list() if c["cmd"] == "bzpopmin"], what="an idle slot")
        direct.client_kill_filter(_id=slot[0]["id"])  # only the slot's own connection drops
        wait_until(lambda: store_changed_lines(caplog), what="the slot to find the store changed")
        wait_until(lambda: _slot_went_on(caplog), what="the slot to try again (or crash)")
        direct.hset(app.adapter.keys.meta, mapping=ours)  # the store is put right
        assert add.dispatch({"x": 2}).result(timeout=10) == {"x": 2}
    finally:
        app.close(timeout=5)
        direct.close()
    assert "crashed" not in caplog.text


def _slot_went_on(caplog: pytest.LogCaptureFixture) -> bool:
    """The slot met the replaced store again after its handshake (or its thread crashed)."""
    return any(r.threadName.startswith("taskora-slot") and ("still refused" in r.getMessage()
               or "crashed" in r.getMessage()) for r in caplog.records)  # fmt: skip
