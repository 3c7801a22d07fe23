"""Time as the engine sees it. The caller passes ``now`` in ms to every script, so a virtual clock
(tests, the TestRunner) drives delays, retries, TTLs and schedules. One exception: a claim queued
behind a blocking wait (``RedisAdapter.wait_then_claim``) reads Redis' clock, since nobody knows when
it will run; that path is only taken with the system clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


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


# -- timed work: how a time-based feature becomes virtual-time aware -----------------------------------
#
# A feature whose work falls due at a moment (a delayed job, a schedule, a collect or debounce window, a
# workflow deadline) is virtual-time aware when:
#   1. every script it runs takes ``now`` from ARGV, as ``adapter.now_ms()`` (never Redis' TIME nor
#      ``time.time()``), so the app's clock is the only source of time;
#   2. the moment it next falls due is readable: put it in the task's ``delayed`` zset (the claim path
#      promotes it, and ``adapter.next_due_ms`` already sees it), or register a TimedWork below whose
#      ``next_due(app)`` returns that moment;
#   3. whatever fires it runs either on the claim path (nothing more to do) or is the TimedWork's
#      ``run_due(app)``, which fires what is due at ``app.adapter.now_ms()``; production calls it from the
#      worker's maintenance, ``TestRunner.advance_time`` at every due moment it steps through; and
#   4. a buffer that can be forced out early (``TestRunner.flush(task, key)``) gives ``flush(app, task, key)``.
# The TestRunner then makes it due in order with everything else when a test advances the clock.


@dataclass(frozen=True)
class TimedWork:
    """A time-based feature's hooks, as a test runner (or a worker's maintenance) drives them.

    Args:
        name: what the feature is called in errors (``"collect"``, ``"debounce"``...).
        next_due: the earliest moment (epoch ms) it has work due at, or None when nothing is pending.
        run_due: fire what is due at the app clock's now; returns how many things it fired.
        flush: force a task's buffers out now (``key`` None: every key); returns how many it flushed.
    """

    name: str
    next_due: Callable[[Any], int | None]
    run_due: Callable[[Any], int]
    flush: Callable[[Any, str, str | None], int] | None = None


_TIMED_WORK: dict[str, TimedWork] = {}


def register_timed_work(work: TimedWork) -> TimedWork:
    """Make a time-based feature known to virtual time (once per name; a second one is an error)."""
    if work.name in _TIMED_WORK and _TIMED_WORK[work.name] != work:
        raise ValueError(f"timed work {work.name!r} is already registered (by another TimedWork)")
    _TIMED_WORK[work.name] = work
    return work


def unregister_timed_work(name: str) -> None:
    _TIMED_WORK.pop(name, None)


def timed_work() -> list[TimedWork]:
    """Every registered time-based feature, in registration order."""
    return list(_TIMED_WORK.values())
