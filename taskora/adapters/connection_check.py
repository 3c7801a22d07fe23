"""The wire handshake once per connection: a connection opened after the adapter's first handshake checks
``taskora:meta`` as it connects, before its first command.

Why on connect: a store can change under a running adapter (Redis restarted empty, or from another store's
snapshot; a Sentinel failover to a master of another deployment; a cluster node replaced). Each of those breaks
the adapter's connections, so every write after it goes through a connection that was just opened; checking
there refuses the new store with SchemaVersionMismatchError before that connection sends anything. A connection
is then reused thousands of times at no extra cost: the check is one round trip per connection, none per
command (``python -m bench.handshake_cost`` measures it).

Where the check runs: on the new connection itself (a single Redis, Sentinel's master). On a cluster,
``taskora:meta`` lives on one node: a new connection to that node checks on itself, one to another node asks
the owner through the cluster client's connection to it (by the client's slot map; sending it to this node
would cost a MOVED reply). When the owner cannot be reached that way or has moved (a failover or reshard in
progress, a connection to it that died), the check goes through the cluster client itself, which follows the
move and waits for the failover to end: a connection is never let through unchecked (it once was, with the
gate reopened for the next write, and the write on that very connection went to a replaced store unchecked,
1 CI run in about 20).

Before the adapter's first handshake nothing is checked on connect: a process that only reads (the board, the
inspector) never writes ``taskora:meta``, and a producer's first write handshakes through ``WireGate``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from redis.exceptions import AskError, ClusterDownError, NoScriptError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import SchemaVersionMismatchError
from .handshake import WireGate, check_window, stored_meta, unreadable_meta
from .slot_connections import is_redirect
from .topology import FAILOVER_ERRORS, is_cluster_client

#: Sends one command on a connection and returns its reply (error replies raise).
Run = Callable[..., Any]


class StoreChangedError(SchemaVersionMismatchError, RedisConnectionError):
    """A new connection found a store this process cannot speak to. A SchemaVersionMismatchError to the caller,
    and a connection error too: a worker waits it out like an outage (logging it, backing off, resuming if the
    store is put right) instead of crashing its threads or failing its own shutdown."""

    @classmethod
    def of(cls, refused: SchemaVersionMismatchError) -> StoreChangedError:
        return cls(refused.code, refused.ours, refused.theirs)


class ConnectionCheck:
    """Runs the handshake on each connection an armed adapter opens (see the module docstring)."""

    def __init__(self, gate: WireGate, script: Any, meta_key: str, arguments: Callable[[], list[Any]],
                 meta_node: Callable[[], Any] | None = None, cluster: Any = None) -> None:  # fmt: skip
        self.gate = gate
        self._script = script
        self._meta_key = meta_key
        self._arguments = arguments
        #: On a cluster: the node holding ``taskora:meta`` (``name`` "host:port", client ``redis_connection``),
        #: and the cluster client, which follows a move or a failover when that node cannot answer.
        self._meta_node = meta_node
        self._cluster = cluster
        self._busy = threading.local()

    def verify(self, run: Run, address: str) -> None:
        """Handshake for the new connection to ``address`` that ``run`` talks to; SchemaVersionMismatchError
        refuses it."""
        if not self.gate.armed or getattr(self._busy, "on", False):
            return  # not armed yet, or a connection opened by a check itself (it runs the check right after)
        self._busy.on = True
        try:
            reply = self._meta_reply(run, address)
        except SchemaVersionMismatchError as refused:  # a key that is not a hash
            self._drop_meta_connections()
            raise StoreChangedError.of(refused) from refused
        finally:
            self._busy.on = False
        try:
            check_window(stored_meta(reply))
        except SchemaVersionMismatchError as refused:
            self._drop_meta_connections()
            raise StoreChangedError.of(refused) from None

    def _drop_meta_connections(self) -> None:
        """On a cluster, close the idle connections to meta's node. The check may have opened one to ask there,
        unchecked (it was the check): kept in the pool after a refusal, the next command through it went to the
        refused store unchecked (1 read in 6 runs). Every other connection to that node reaches the same refused
        store, so none is worth keeping; the next one opened is checked."""
        if self._meta_node is None:
            return
        try:
            node = self._meta_node()
        except FAILOVER_ERRORS:
            return
        if node.redis_connection is not None:
            node.redis_connection.connection_pool.disconnect(inuse_connections=False)

    def _meta_reply(self, run: Run, address: str) -> Any:
        """The handshake's reply from meta's node; on a cluster whose node for it cannot answer now, from the
        cluster client, which follows the move or waits out the failover (its errors are the caller's)."""
        try:
            return self._handshake(self._where_meta_is(run, address))
        except (AskError, RedisConnectionError, RedisTimeoutError, OSError):
            if self._meta_node is None:
                raise
        except ResponseError as exc:
            if self._meta_node is None or not str(exc).startswith(("MOVED ", "ASK ")):
                raise
        if self._refreshing_topology():
            return self._asked_on_this_connection(run, address)
        return self._handshake(lambda *command: self._cluster.execute_command(*command))

    def _refreshing_topology(self) -> bool:
        """Whether this thread is inside the cluster client's topology refresh (redis-py 8 names the refreshing
        thread in ``NodesManager._initializing_thread_id``). The refresh holds a lock every other command waits
        on, and asking the cluster client from inside it nests that client's retries and backoffs inside the
        refresh's own, once per node: a worker and a dispatch hung past 120 s on a cluster whose meta node was
        down (test_topology's slot-without-node test, 2 local runs in 2 and 1 CI run)."""
        manager = getattr(self._cluster, "nodes_manager", None)
        return getattr(manager, "_initializing_thread_id", None) == threading.get_ident()

    def _asked_on_this_connection(self, run: Run, address: str) -> Any:
        """Inside a topology refresh, the handshake goes on the new connection itself: its node answers when it
        holds ``taskora:meta`` now (a failover moved it there), and the connection is refused otherwise, without
        a wait. The refresh then asks its next node (one it still has a connection to needs no check)."""
        try:
            return self._handshake(run)
        except ResponseError as exc:  # redis-py's MovedError/AskError/ClusterDownError/TryAgainError, or the text
            if not isinstance(exc, (AskError, ClusterDownError, TryAgainError)) and not is_redirect(exc):
                raise
            raise RedisConnectionError(f"{address} cannot be checked during a topology refresh: the node holding "
                                       f"{self._meta_key} cannot answer, and {address} does not hold it ({exc})"
                                       ) from exc  # fmt: skip

    def _where_meta_is(self, run: Run, address: str) -> Run:
        """``run`` itself, unless on a cluster ``taskora:meta`` is on another node: then that node's client."""
        if self._meta_node is None:
            return run
        try:
            node = self._meta_node()
        except FAILOVER_ERRORS as exc:  # no node covers the slot now (a failover in progress)
            raise RedisConnectionError(f"no node holds {self._meta_key} now: {exc}") from exc
        if node.name == address or node.redis_connection is None:
            return run
        return _resent_once(node.redis_connection)

    def _handshake(self, run: Run) -> Any:
        args = self._arguments()
        try:
            try:
                return run("EVALSHA", self._script.sha, 1, self._meta_key, *args)
            except NoScriptError:  # a fresh server's script cache: EVAL loads it (EVALSHA stays cheap after)
                pass
            return run("EVAL", self._script.text, 1, self._meta_key, *args)
        except ResponseError as exc:
            refused = unreadable_meta(exc)
            if refused is None:
                raise
            raise refused from exc


def _resent_once(client: Any) -> Run:
    """``client.execute_command``, sent once more when it fails on a pooled connection that had died (its node
    restarted, or the connection was killed): the handshake is safe to resend, and only a second failure means
    the node is unreachable. The pool's other idle connections died with it, and redis-py may hand one out
    unchecked (it skips its liveness look when maintenance notifications are on), so they are dropped first:
    the resend goes on a new connection (else a second dead one let the write through unchecked, 1 run in 5
    of the cluster's replaced-store test)."""

    def run(*command: Any) -> Any:
        try:
            return client.execute_command(*command)
        except (RedisConnectionError, RedisTimeoutError):
            client.connection_pool.disconnect(inuse_connections=False)
            return client.execute_command(*command)

    return run


class PoolHook:
    """A redis-py ``redis_connect_func``: the connection's own set-up (``inner``, else ``on_connect``), then the
    check. A refused connection is closed before the error leaves (redis-py only closes on its own errors)."""

    taskora_wire_check = True

    def __init__(self, check: ConnectionCheck, inner: Callable[[Any], Any] | None, *, set_up: bool = True) -> None:
        self.check, self.inner, self._set_up = check, inner, set_up

    def __call__(self, connection: Any) -> None:
        if self.inner is not None:
            self.inner(connection)
        elif self._set_up:
            connection.on_connect()
        try:
            self.check.verify(lambda *command: _round_trip(connection, command), _address(connection))
        except BaseException:
            connection.disconnect()
            raise


def _address(connection: Any) -> str:
    """"host:port" of a redis-py connection, as a cluster node is named (a Unix socket's path otherwise)."""
    host = getattr(connection, "host", None)
    return f"{host}:{connection.port}" if host is not None else str(getattr(connection, "path", ""))


def _round_trip(connection: Any, command: tuple[Any, ...]) -> Any:
    connection.send_command(*command)
    return connection.read_response()


def install(adapter: Any) -> ConnectionCheck:
    """Hook the check into every connection the adapter opens: the command client's pool (or each cluster
    node's), the per-thread connections of the hot path (scripts.py, slot_connections.py), and the blocking
    client's (event streams, control replies, subscriptions): a result read from a replaced store's event
    stream would be another deployment's result for a job of the same id."""
    client, cluster = adapter.client, is_cluster_client(adapter.client)
    meta_node = _meta_node(client, adapter.keys.meta) if cluster else None
    check = ConnectionCheck(adapter.wire_gate, adapter.scripts.handshake, adapter.keys.meta,
                            adapter.handshake_arguments, meta_node, client if cluster else None)  # fmt: skip
    for each in (client, adapter.blocking):
        _hook_client(each, check)
    if hasattr(adapter.runner, "after_connect"):
        adapter.runner.after_connect = lambda connection: check.verify(connection.call, connection.where())
    return check


def _hook_client(client: Any, check: ConnectionCheck) -> None:
    """The check on every new connection of a redis-py client (a cluster's: of each of its nodes)."""
    if is_cluster_client(client):
        client.user_on_connect_func = PoolHook(check, client.user_on_connect_func, set_up=False)
    elif type(client).__module__.split(".")[0] == "redis":  # not the in-memory engine's fakeredis (no sockets)
        _hook_pool(client.connection_pool, check)


def _hook_pool(pool: Any, check: ConnectionCheck) -> None:
    """New connections of ``pool`` get the hook through its kwargs; those already made get it directly."""
    hook = PoolHook(check, pool.connection_kwargs.get("redis_connect_func"))
    pool.connection_kwargs["redis_connect_func"] = hook
    for name in ("_available_connections", "_in_use_connections"):
        for connection in getattr(pool, name, ()):
            connection.redis_connect_func = hook


def _meta_node(cluster: Any, meta_key: str) -> Callable[[], Any]:
    slot = cluster.keyslot(meta_key)
    return lambda: cluster.nodes_manager.get_node_from_slot(slot)


__all__ = ["ConnectionCheck", "PoolHook", "StoreChangedError", "install"]
