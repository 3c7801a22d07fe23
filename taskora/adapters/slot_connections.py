"""The hot path on a Redis Cluster: per-thread bare connections, one per node, chosen by the key's slot.

``ThreadConnections`` (scripts.py) gives each thread its own ``DirectConnection`` to a single Redis, which
halves the cost of a transition against redis-py's pooled path. On a cluster the same connection is kept
per (thread, node): a command goes to the node that owns its first key's slot, as redis-py's
``RedisCluster`` would send it. When that fails (a node died, a slot moved: a connection error, MOVED or
ASK), the command is sent once more through the ``RedisCluster`` client itself, which refreshes the slot
map and follows redirections; later commands use the new map. Only commands that are safe to send again
come here (engine scripts, reads, blocking pops of a marker), the rule ``ThreadConnections`` already has.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import SchemaVersionMismatchError
from .direct import DirectConnection, InFlight
from .scripts import ThreadConnections
from .topology import FAILOVER_ERRORS

_R = TypeVar("_R")

#: Replies meaning "not this node": the slot map the connection was chosen by is stale.
_REDIRECTS = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN")


class SlotConnections(ThreadConnections):
    """``ThreadConnections`` for a ``RedisCluster``: the calling thread's connection to the key's node."""

    @staticmethod
    def supports(cluster: Any) -> bool:
        """True when the cluster's node connections are TCP ones (TLS or not) a ``DirectConnection`` reproduces."""
        nodes = cluster.get_nodes()
        return bool(nodes) and not cluster.read_from_replicas and all(_plain(n) for n in nodes)

    def __init__(self, cluster: Any) -> None:
        """No ``super().__init__``: a cluster client has no pool of its own; each node has one."""
        self._client = cluster
        self._direct = True
        self._local = threading.local()
        self._opened: weakref.WeakSet[Any] = weakref.WeakSet()
        self.after_connect: Callable[[Any], None] | None = None

    def _connection_for(self, key: Any) -> DirectConnection:
        node = self._client.nodes_manager.get_node_from_slot(self._client.keyslot(key))
        pid = os.getpid()
        held: dict[str, DirectConnection] | None = getattr(self._local, "by_node", None)
        if held is None or getattr(self._local, "pid", None) != pid:
            held = self._local.by_node = {}
            self._local.pid = pid
        connection = held.get(node.name)
        if connection is None:
            connection = held[node.name] = DirectConnection(node.redis_connection.connection_pool)
            connection.after_connect = self.after_connect
            self._opened.add(connection)
        return connection

    def call(self, *command: Any) -> Any:
        return self._routed(command, lambda c: c.call(*command), lambda: self._client.execute_command(*command))

    def call_many(self, *commands: tuple[Any, ...]) -> list[Any]:
        """``commands`` (all on one slot: the engine's calls are) in one write, one reply each."""
        replies = self._routed(commands[0], lambda c: c.call_many(list(commands)), lambda: self._one_by_one(commands))
        if any(is_redirect(r) for r in replies):
            self._client.nodes_manager.initialize()
            return self._one_by_one(commands)
        return replies

    def send(self, *commands: tuple[Any, ...]) -> list[InFlight]:
        """Sent ahead on the key's node; a redirect or lost connection surfaces when the reply is read, and
        the reader resends (ClaimInFlight), which comes back here through ``call`` with a fresh map."""
        sent = self._routed(commands[0], lambda c: c.send(*commands),
                            lambda: [_settled(r) for r in self._one_by_one(commands)])  # fmt: skip
        return [_Redirectable(one, command, self) for one, command in zip(sent, commands, strict=True)]

    def _one_by_one(self, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
        """``commands`` through the cluster client, in order, an error reply in the list for each that gets one.

        A failover error (CLUSTERDOWN, TRYAGAIN, READONLY, no node for the slot) the client's own retries did not
        outlast is raised, and the commands after it are not sent. Written together on a node's connection, they
        would all have had that answer; sent one by one, the next could run once the cluster is back, after the
        error that its caller raises: a claim behind a marker wait (wait_then_claim) then took a job that no slot
        ran, left active until its lock ran out (the stall interval, 30 s by default)."""
        replies: list[Any] = []
        for command in commands:
            try:
                replies.append(self._client.execute_command(*command))
            except FAILOVER_ERRORS:
                raise
            except ResponseError as exc:
                replies.append(exc)
        return replies

    def _routed(self, command: tuple[Any, ...], direct: Callable[[DirectConnection], _R],
                fallback: Callable[[], _R]) -> _R:  # fmt: skip
        """``direct`` on the key's node; on a lost connection or a redirect, ``fallback`` through the cluster
        client after a slot-map refresh (the cluster client then retries and redirects on its own). A new
        connection refused by the wire check (StoreChangedError, a connection error too) is no lost connection:
        it is raised, never retried through the cluster client (which once let the read through, 3 runs in 6)."""
        try:
            return direct(self._connection_for(_first_key(command)))
        except SchemaVersionMismatchError:
            raise
        except (RedisConnectionError, RedisTimeoutError, OSError):
            pass
        except ResponseError as exc:
            if not is_redirect(exc):
                raise
        self._refresh()
        return fallback()

    def again(self, command: tuple[Any, ...]) -> Any:
        """``command`` through the cluster client after a slot-map refresh (a redirect came back)."""
        self._refresh()
        return self._client.execute_command(*command)

    def _refresh(self) -> None:
        try:
            self._client.nodes_manager.initialize()
        except Exception:  # no node answers yet (a failover in progress): the fallback call says so
            self._client.nodes_manager.reinitialize_counter = 0


class _Redirectable(InFlight):
    """A command sent ahead whose reply, when it is a redirect (the slot moved since the map was read), is
    asked for again through the cluster client: the redirected command did not run."""

    __slots__ = ("_inner", "_command", "_owner")

    def __init__(self, inner: InFlight, command: tuple[Any, ...], owner: SlotConnections) -> None:
        super().__init__()
        self._inner, self._command, self._owner = inner, command, owner

    def result(self) -> Any:
        try:
            return self._inner.result()
        except ResponseError as exc:
            if not is_redirect(exc):
                raise
        return self._owner.again(self._command)


def _settled(reply: Any) -> InFlight:
    return InFlight.settled(failure=reply) if isinstance(reply, Exception) else InFlight.settled(reply)


def _plain(node: Any) -> bool:
    """A node whose connections a DirectConnection opens the same way: TCP or TLS, and no connect hook but the
    cluster client's own (which only sends READONLY when reading from replicas, refused in ``supports``)."""
    if node.redis_connection is None:
        return False
    kwargs = node.redis_connection.connection_pool.connection_kwargs
    hook = kwargs.get("redis_connect_func")
    ours = hook is None or getattr(hook, "__func__", None) is _cluster_on_connect()
    return ours and DirectConnection.supports(node.redis_connection.connection_pool, ignore_connect_hook=True)


def _cluster_on_connect() -> Any:
    from redis.cluster import RedisCluster

    return RedisCluster.on_connect


def thread_connections_of(client: Any) -> Any:
    """What a client that is not a single Redis runs transitions through: per-thread node connections for a
    cluster whose nodes a ``DirectConnection`` can reach, else the client itself (in-memory engine)."""
    from .topology import is_cluster_client

    return SlotConnections(client) if is_cluster_client(client) and SlotConnections.supports(client) else client


def _first_key(command: tuple[Any, ...]) -> Any:
    """The first key of one of the commands the engine sends on its hot path."""
    name = str(command[0]).upper()
    if name in ("EVALSHA", "EVAL"):
        return command[3]
    if name == "XREAD":
        return command[list(map(str, command)).index("STREAMS") + 1]
    return command[1]


def is_redirect(reply: Any) -> bool:
    """An error reply read raw (a DirectConnection's) saying the node does not serve the key now."""
    return isinstance(reply, ResponseError) and str(reply).startswith(_REDIRECTS)
