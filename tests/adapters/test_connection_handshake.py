"""The wire handshake once per connection (#19): a connection an adapter opens after its first handshake checks
``taskora:meta`` before its first command, so a store that changed behind a running adapter (Redis restarted
with another store, a failover, connections dropped while the store was replaced) is refused with
SchemaVersionMismatchError before anything is written; a connection that stays open is never checked again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from taskora import SchemaVersionMismatchError, Task, Taskora
from taskora.redis import redis_adapter
from tests.redis_cluster import RedisCluster, RedisSentinels
from tests.redis_server import RedisServer
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


def test_a_running_worker_writes_nothing_to_a_replaced_store_and_still_closes(prefix: str) -> None:
    with RedisServer() as server:
        app = Taskora(redis_adapter(server.url, prefix=prefix))
        add = task_of(app, "add")
        app.start()
        try:
            assert add.dispatch({"x": 1}).result(timeout=10) == {"x": 1}
            server.restart()
            with redis.Redis.from_url(server.url) as direct:
                direct.hset(app.adapter.keys.meta, mapping=NEWER)
                with pytest.raises(SchemaVersionMismatchError):
                    add.dispatch({"x": 2})
                wait_until(lambda: handshakes(direct) >= 3, what="the worker's threads to reconnect and be refused")
        finally:
            app.close(timeout=5)  # refused connections read as an outage: closing does not raise
        with redis.Redis.from_url(server.url) as direct:
            assert keys_under(direct, prefix) == {app.adapter.keys.meta}


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
