"""The adapter on a Redis Cluster: two ``RedisCluster`` clients (commands, and blocking reads without a socket
timeout), from a ``redis+cluster://`` URL or a user's ``RedisCluster``. See topology.py for why."""

from __future__ import annotations

from typing import Any

from redis import cluster as redis_cluster

from ..clock import Clock
from ..urls import mask_url
from .redis import RedisAdapter
from .topology import TopologyURL, connection_options

#: redis-py's cluster client and node address (untyped there).
RedisCluster: Any = redis_cluster.RedisCluster
ClusterNode: Any = redis_cluster.ClusterNode

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

