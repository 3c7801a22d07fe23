"""The test session's redis-server: the project's one launcher (taskora/testing/redis_server.py)."""

from __future__ import annotations

from taskora.testing.redis_server import LocalRedis as RedisServer
from taskora.testing.redis_server import free_port

__all__ = ["RedisServer", "free_port"]
