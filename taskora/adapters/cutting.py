"""Cutting the connections of a Redis that has gone silent, so a stopping worker is not held by it.

A Redis that stops answering without closing its sockets (a suspended VM, a firewall dropping the
flow, a failover that leaves the old address black-holed) sends no FIN and no RST: a read on an open
connection then waits for its socket timeout (30 s by default) or, on a blocking connection, forever,
and each call made while stopping waits again. ``cut_connections`` ends that: every open socket is
shut down, which wakes the reads already blocked on it, and every connection (the ones open now and
the ones opened later) reads and connects with a short timeout from then on. Only a stopping worker
cuts, and only once Redis failed to answer it: a claim cut while in flight may have run, and its job
then waits for the reclaimers like any job whose worker went away (nothing is lost).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .core import RedisCore
from .scripts import ThreadConnections
from .socket_timeouts import shut_down


class ConnectionCutting(RedisCore):
    def cut_connections(self, timeout_s: float) -> None:
        """Shut every open socket down and bound every later read and connect to ``timeout_s``.

        The in-memory engine has no sockets: there is nothing to cut there.
        """
        for pool in _pools_of(self.client, self.blocking):
            _cut_pool(pool, timeout_s)
        if isinstance(self.runner, ThreadConnections):
            self.runner.cut(timeout_s)


def _pools_of(*clients: Any) -> Iterator[Any]:
    """The redis-py connection pools behind ``clients`` (a cluster client has one per node)."""
    for client in clients:
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            yield pool
        for node in client.get_nodes() if hasattr(client, "get_nodes") else ():
            if node.redis_connection is not None:
                yield node.redis_connection.connection_pool


def _cut_pool(pool: Any, timeout_s: float) -> None:
    kwargs = getattr(pool, "connection_kwargs", None)
    if not isinstance(kwargs, dict):  # not a redis-py pool (the in-memory engine's fakeredis)
        return
    kwargs.update(socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    for connection in _open_connections(pool):
        connection.socket_timeout = connection.socket_connect_timeout = timeout_s
        shut_down(getattr(connection, "_sock", None))


def _open_connections(pool: Any) -> list[Any]:
    """The pool's connections, idle and in use (redis-py keeps no public list of them)."""
    idle = list(getattr(pool, "_available_connections", ()))
    return [*idle, *list(getattr(pool, "_in_use_connections", ()))]
