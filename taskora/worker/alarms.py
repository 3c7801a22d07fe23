"""Alarms: one thread per process calls each function given to ``set_alarm`` when its time comes.

A soft time limit (limits.py, main_thread.py) must act in the middle of a handler, so something else has to be
awake when it falls due. A ``threading.Timer`` per job did that at the price of a thread started for every job,
most of a short job's cost. One thread keeps every armed alarm in a heap instead. Arming an alarm adds it to the
heap and wakes that thread only when the new alarm is due before every other; cancelling one only marks it,
and the heap drops what was cancelled when that is most of it, so a stream of short jobs under a long limit
does not grow it.

An alarm's function runs on the alarm thread: it must be short, and must not block (it raises in another
thread, or signals one). One that raises is logged; the others still run.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("taskora.worker")

__all__ = ["Alarm", "set_alarm"]

#: Below this many entries the heap is not compacted: cancelled ones are dropped as they come due.
COMPACT_MIN = 64


class Alarm:
    """One armed alarm; ``cancel()`` makes sure its function is not called from then on (unless it is already
    running: the caller's own lock settles that race, as SoftLimit's does)."""

    __slots__ = ("_action", "_owner", "cancelled")

    def __init__(self, owner: _Alarms, action: Callable[[], Any]) -> None:
        self._owner = owner  # the heap it is in (a forked child's new one holds none of its parent's alarms)
        self._action = action
        self.cancelled = False

    def cancel(self) -> None:
        self._owner.cancel(self)


class _Alarms:
    """The process's alarm heap and the thread that serves it (started with the first alarm)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()  # ties: the alarm set first fires first
        self._cancelled = 0
        self._thread: threading.Thread | None = None

    def set(self, seconds: float, action: Callable[[], Any]) -> Alarm:
        alarm, due = Alarm(self, action), time.monotonic() + seconds
        with self._lock:
            wake = not self._heap or due < self._heap[0][0]
            heapq.heappush(self._heap, (due, next(self._order), alarm))
            if self._thread is None:  # the first alarm of this process (a forked child starts anew: below)
                self._thread = threading.Thread(target=self._serve, name="taskora-alarms", daemon=True)
                self._thread.start()
            elif wake:
                self._changed.notify()
        return alarm

    def cancel(self, alarm: Alarm) -> None:
        with self._lock:
            if alarm.cancelled:
                return
            alarm.cancelled = True
            self._cancelled += 1
            if self._cancelled * 2 > len(self._heap) >= COMPACT_MIN:
                self._heap = [entry for entry in self._heap if not entry[2].cancelled]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def _serve(self) -> None:
        while True:
            for alarm in self._next_due():
                try:
                    alarm._action()
                except Exception:
                    log.exception("an alarm's function raised")

    def _next_due(self) -> list[Alarm]:
        """Wait until at least one alarm is due; return the due ones not cancelled (taking them off the heap)."""
        with self._lock:
            while True:
                now = time.monotonic()
                due: list[Alarm] = []
                while self._heap and self._heap[0][0] <= now:
                    alarm = heapq.heappop(self._heap)[2]
                    if alarm.cancelled:
                        self._cancelled -= 1
                    else:
                        alarm.cancelled = True  # fired: a cancel from here on counts nothing
                        due.append(alarm)
                if due:
                    return due
                self._changed.wait(self._heap[0][0] - now if self._heap else None)


_ALARMS = _Alarms()


def _reset_in_child() -> None:
    """A forked child (a prefork pool's) starts with no alarms: its parent's thread is not there, and its lock may
    have been held by that thread at the fork."""
    global _ALARMS
    _ALARMS = _Alarms()


os.register_at_fork(after_in_child=_reset_in_child)


def set_alarm(seconds: float, action: Callable[[], Any]) -> Alarm:
    """Call ``action()`` on the alarm thread in ``seconds`` unless the returned alarm is cancelled first."""
    return _ALARMS.set(seconds, action)
