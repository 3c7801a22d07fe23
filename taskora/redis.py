"""``redis_adapter(...)``: the production store (Redis 7+, Valkey 8+)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .adapters.redis import RedisAdapter, from_client, from_url
from .clock import Clock
from .errors import ConfigurationError


def redis_adapter(
    target: str | Mapping[str, Any] | Any = "redis://localhost:6379/0",
    *,
    prefix: str | None = None,
    clock: Clock | None = None,
) -> RedisAdapter:
    """Connect to Redis given a URL, a dict of ``redis.Redis`` options, or an existing client.

    Args:
        target: ``"redis://host:port/db"``; ``{"host": ..., "port": ..., "password": ...}``; or a
            ``redis.Redis`` instance (blocking reads then use a sibling pool with the same options).
        prefix: namespaces every key as ``taskora:<prefix>:...`` so apps can share one Redis.
    """
    if isinstance(target, str):
        return from_url(target, prefix=prefix, clock=clock)
    if isinstance(target, Mapping):
        options = dict(target)
        url = options.pop("url", None)
        if url is None:
            host, port, db = options.pop("host", "localhost"), options.pop("port", 6379), options.pop("db", 0)
            scheme = "rediss" if options.pop("ssl", False) else "redis"
            url = f"{scheme}://{host}:{port}/{db}"
        return from_url(url, prefix=prefix, clock=clock, **options)
    if hasattr(target, "connection_pool"):
        return from_client(target, prefix=prefix, clock=clock)
    raise ConfigurationError(f"redis_adapter: expected a URL, an options dict or a redis client, got {target!r}")


__all__ = ["RedisAdapter", "redis_adapter"]
