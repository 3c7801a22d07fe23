"""The adapter on a Redis Cluster: two ``RedisCluster`` clients (commands, and blocking reads without a socket
timeout), from a ``redis+cluster://`` URL or a user's ``RedisCluster``. See topology.py for why."""

from __future__ import annotations

from typing import Any

from redis import cluster as redis_cluster
from redis.exceptions import RedisClusterException

from ..clock import Clock
from ..urls import mask_url
from .connection_check import StoreChangedError
from .redis import RedisAdapter
from .topology import TopologyURL, connection_options

#: redis-py's node address (untyped there).
ClusterNode: Any = redis_cluster.ClusterNode


class RedisCluster(redis_cluster.RedisCluster):
    """redis-py's cluster client, through which a connection the wire check refused (connection_check.py) fails
    with that refusal, as it does from redis-py 8.2 on. Before (8.1 is the last release for Python 3.10), a
    refusal met while the client mapped the cluster came wrapped in a RedisClusterException: a dispatch to a
    replaced store raised that instead of a SchemaVersionMismatchError, and a worker took it for a failover."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]
        except RedisClusterException as exc:
            refused = exc.__cause__
            if isinstance(refused, StoreChangedError):
                raise refused from exc
            raise

#: Connection options every cluster client gets (the user's win): see from_url in redis.py for the reasons.
_COMMON = {"socket_connect_timeout": 5, "socket_timeout": 30, "health_check_interval": 30,
           "max_connections": 10_000}  # fmt: skip


def cluster_from_url(parsed: TopologyURL, *, prefix: str | None = None, clock: Clock | None = None,
                     **options: Any) -> RedisAdapter:  # fmt: skip
    """The adapter for ``redis+cluster://host:port[,host:port...]/`` (any reachable node is enough)."""
    common = {**_COMMON, **connection_options(parsed), **options}
    nodes = [ClusterNode(host, port) for host, port in parsed.hosts]
    client = RedisCluster(startup_nodes=nodes, **common)
    blocking = RedisCluster(startup_nodes=nodes, **{**common, "socket_timeout": None})
    return RedisAdapter(client, blocking, prefix=prefix, clock=clock, address=mask_url(parsed.url))


def cluster_from_client(client: Any, *, prefix: str | None = None, clock: Clock | None = None) -> RedisAdapter:
    """Wrap a user's ``RedisCluster``; blocking reads get a sibling cluster client with no socket timeout."""
    kwargs = dict(client.nodes_manager.connection_kwargs)
    kwargs.update(socket_timeout=None)
    nodes = [ClusterNode(n.host, n.port) for n in client.get_primaries()]
    blocking = RedisCluster(startup_nodes=nodes, **kwargs)
    address = "cluster " + ",".join(f"{n.host}:{n.port}" for n in nodes)
    return RedisAdapter(client, blocking, prefix=prefix, clock=clock, address=address)

