"""``redis_adapter(...)``: the production store (Redis 7+, Valkey 8+)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .adapters.cluster import cluster_from_client, cluster_from_url
from .adapters.redis import RedisAdapter, from_client, from_url
from .adapters.sentinel import sentinel_from_client, sentinel_from_url
from .adapters.topology import (
    CLUSTER_SCHEMES,
    SENTINEL_SCHEMES,
    is_cluster_client,
    is_sentinel_client,
    parse_topology_url,
)
from .clock import Clock
from .errors import ConfigurationError
from .urls import mask_url


def redis_adapter(
    target: str | Mapping[str, Any] | Any = "redis://localhost:6379/0",
    *,
    prefix: str | None = None,
    clock: Clock | None = None,
) -> RedisAdapter:
    """Connect to Redis given a URL, a dict of ``redis.Redis`` options, or an existing client.

    Args:
        target: ``"redis://host:port/db"``, ``"redis+cluster://host:port[,host:port]/"`` or
            ``"redis+sentinel://host:port[,host:port]/service_name/db"`` (also kombu's ``sentinel://``);
            ``{"host": ..., "port": ..., "password": ...}``; or a ``redis.Redis``, ``RedisCluster`` or
            ``Sentinel.master_for(...)`` client (blocking reads then use a sibling client with the same options).
        prefix: namespaces every key as ``taskora:<prefix>:...`` so apps can share one Redis.
    """
    if isinstance(target, str):
        return _from_url(target, prefix=prefix, clock=clock)
    if isinstance(target, Mapping):
        options = dict(target)
        url = options.pop("url", None)
        if url is None:
            host, port, db = options.pop("host", "localhost"), options.pop("port", 6379), options.pop("db", 0)
            scheme = "rediss" if options.pop("ssl", False) else "redis"
            url = f"{scheme}://{host}:{port}/{db}"
        return _from_url(url, prefix=prefix, clock=clock, **options)
    if is_cluster_client(target):
        return cluster_from_client(target, prefix=prefix, clock=clock)
    if is_sentinel_client(target):
        return sentinel_from_client(target, prefix=prefix, clock=clock)
    if hasattr(target, "connection_pool"):
        return from_client(target, prefix=prefix, clock=clock)
    raise ConfigurationError(f"redis_adapter: expected a URL, an options dict or a redis client, got {target!r}")


def _from_url(url: str, **options: Any) -> RedisAdapter:
    """``from_url``, with a URL redis-py cannot read (a port of ``abc``, a database of ``/abc``, which it would
    silently read as database 0) refused as a ConfigurationError naming the URL, its password masked."""
    scheme = url.partition("://")[0].lower()
    if scheme in CLUSTER_SCHEMES:
        return cluster_from_url(parse_topology_url(url), **options)
    if scheme in SENTINEL_SCHEMES:
        return sentinel_from_url(parse_topology_url(url), **options)
    try:
        _check_database(url)
        return from_url(url, **options)
    except ConfigurationError:
        raise
    except ValueError as exc:
        raise ConfigurationError(f"broker URL {mask_url(url)!r}: {exc}") from None


def _check_database(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("redis", "rediss") and parts.path.strip("/") and not parts.path.strip("/").isdigit():
        raise ConfigurationError(f"broker URL {mask_url(url)!r}: the database must be a number (redis://host:6379/0), "
                                 f"got {parts.path!r}")


__all__ = ["RedisAdapter", "redis_adapter"]
