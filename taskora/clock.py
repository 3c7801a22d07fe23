"""Time as the engine sees it. The caller passes ``now`` in ms to every script, so a virtual clock
(tests, the TestRunner) drives delays, retries, TTLs and schedules. One exception: a claim queued
behind a blocking wait (``RedisAdapter.wait_then_claim``) reads Redis' clock, since nobody knows when
it will run; that path is only taken with the system clock."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock epoch milliseconds."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


class VirtualClock:
    """A clock that only moves when told to; starts at the wall clock unless given a start."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        return self._now

    def advance(self, seconds: float) -> int:
        with self._lock:
            self._now += int(round(seconds * 1000))
            return self._now

    def set(self, now_ms: int) -> None:
        with self._lock:
            self._now = int(now_ms)
