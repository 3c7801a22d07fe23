"""The in-memory engine: the same Lua scripts, run in-process by fakeredis on a private FakeServer.

It is a product feature (tests, demos, single-process runs without Redis), not a mock: every
transition goes through the scripts a real Redis runs. One FakeServer per adapter, so a bad script
in one app cannot poison another (engine notes, difference #1).
"""

from __future__ import annotations

from typing import Any

from ..clock import Clock
from .base import IN_PROCESS_ADDRESS
from .redis import RedisAdapter


class MemoryAdapter(RedisAdapter):
    """A RedisAdapter whose Redis lives in this process."""

    kind = "memory"

    def __init__(self, *, prefix: str | None = None, clock: Clock | None = None) -> None:
        import fakeredis  # here, not at module level: a process that only talks to Redis never loads it

        self.server = fakeredis.FakeServer(version=(7, 0))
        client: Any = fakeredis.FakeRedis(server=self.server)
        blocking: Any = fakeredis.FakeRedis(server=self.server)
        super().__init__(client, blocking, prefix=prefix, clock=clock, address=IN_PROCESS_ADDRESS)

    def flush(self) -> None:
        """Forget everything stored (this engine is private to its app, so nothing else is touched)."""
        self.client.flushall()
