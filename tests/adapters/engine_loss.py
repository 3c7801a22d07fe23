"""Making a test's Redis forget the engine, as a restart without persistence or a failover to an empty server does."""

from __future__ import annotations

import redis


def forget_engine(redis_url: str) -> None:
    """Drop every script from the script cache and every function library: the next script call, whichever way
    the adapter sends it (``EVALSHA`` or ``FCALL``), finds nothing to run."""
    client = redis.Redis.from_url(redis_url)
    try:
        client.script_flush()
        client.function_flush()
    finally:
        client.close()
