"""The adapter behind Redis Sentinel: clients from ``Sentinel.master_for``, whose connections ask the sentinels
where the master is whenever they (re)connect, so a failover is followed without a restart."""

from __future__ import annotations

from typing import Any

from ..clock import Clock
from ..urls import mask_url
from .redis import RedisAdapter, no_retry
from .sentinel_tls import ExplainedSentinel, tls_settings, with_master_tls
from .topology import TopologyURL, connection_options

_COMMON = {"socket_connect_timeout": 5, "socket_timeout": 30, "health_check_interval": 30,
           "max_connections": 10_000}  # fmt: skip


def sentinel_from_url(parsed: TopologyURL, *, prefix: str | None = None, clock: Clock | None = None,
                      **options: Any) -> RedisAdapter:  # fmt: skip
    """The adapter for ``redis+sentinel://h:p[,h:p]/service/db`` or kombu's ``sentinel://h:p;sentinel://h:p``
    (``rediss+sentinel://``: the sentinels and the master over TLS, see sentinel_tls.py)."""
    sentinel_kwargs = {"socket_connect_timeout": 2, "socket_timeout": 2,
                       "password": parsed.options.pop("sentinel_password", None),
                       "username": parsed.options.pop("sentinel_username", None)}  # fmt: skip
    common = with_master_tls({**_COMMON, **connection_options(parsed), "db": parsed.db, "retry": no_retry(),
                              **options})  # fmt: skip
    if parsed.tls:  # rediss+sentinel://: the sentinels too
        sentinel_kwargs.update(tls_settings(common))
    sentinel = ExplainedSentinel(parsed.hosts, address=mask_url(parsed.url),
                                 sentinel_kwargs={k: v for k, v in sentinel_kwargs.items() if v is not None})
    assert parsed.service is not None  # parse_topology_url refuses a Sentinel URL without one
    client: Any = sentinel.master_for(parsed.service, **common)
    blocking = sentinel.master_for(parsed.service, **{**common, "socket_timeout": None})
    return RedisAdapter(client, blocking, prefix=prefix, clock=clock, address=mask_url(parsed.url))


def sentinel_from_client(client: Any, *, prefix: str | None = None, clock: Clock | None = None) -> RedisAdapter:
    """Wrap a user's ``Sentinel.master_for(...)`` client; blocking reads get a sibling without a socket timeout,
    of the same connection class (``ssl=True`` makes ``master_for`` pick redis-py's TLS one again)."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "socket_timeout": None, "retry": no_retry(),
              "connection_class": pool.connection_class}  # fmt: skip
    blocking = pool.sentinel_manager.master_for(pool.service_name, **kwargs)
    return RedisAdapter(client, blocking, prefix=prefix, clock=clock, address=f"sentinel {pool.service_name}")
