"""A throw-away ``redis-server`` for one benchmark session.

Every library is measured against the same server, started here on a free loopback port with
persistence off (``--save '' --appendonly no``) so that no fork for RDB/AOF lands in the middle of
a measurement. Everything else is Redis's default configuration (notably
``hash-max-listpack-value 64``), which is what most users run.
"""

from __future__ import annotations

import shutil

from taskora.testing.redis_server import LocalRedis

DEFAULT_BINARY = "/usr/bin/redis-server"


class RedisServer(LocalRedis):
    """``with RedisServer() as srv:``; ``srv.url`` is ``redis://127.0.0.1:<port>/0``. The project's one launcher
    (taskora/testing/redis_server.py), preferring Debian's binary when there is one."""

    def __init__(self, binary: str | None = None, extra_args: tuple[str, ...] = ()) -> None:
        found = binary or (DEFAULT_BINARY if shutil.which(DEFAULT_BINARY) else None)
        super().__init__(extra_args=extra_args, binary=found)
