"""A private redis-server for one harness run (``with RedisServer() as server: server.url``): the project's one
launcher (taskora/testing/redis_server.py), with persistence off, stopped at the end."""

from __future__ import annotations

from taskora.testing.redis_server import LocalRedis as RedisServer

__all__ = ["RedisServer"]
