"""Reads every open board page shares: the overview's counts and throughput, read at most once per ``ttl_s``.

Every open page re-reads the overview when events arrive, so without sharing N people watching a busy queue
cost N reads of every task's counts per refresh. Here the first request after the answer went stale reads
(the others wait for that read, then share it), so N users cost one read per ``ttl_s`` (1 s): the counts a
page shows are at most that old. The board's own actions (retry, cancel, purge...) clear the cache, so their
effect shows at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

#: How old a shared answer may be before the next request reads again (seconds).
OVERVIEW_TTL_S = 1.0


class SharedReads:
    """Answers by key, each read once per ``ttl_s`` however many requests ask (thread-safe, one read at a time)."""

    def __init__(self, ttl_s: float = OVERVIEW_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.clock = ttl_s, clock
        self._lock = threading.Lock()
        self._answers: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable, read: Callable[[], Any]) -> Any:
        """The answer for ``key``, from ``read()`` when there is none younger than ``ttl_s``. Requests that
        arrive during a read wait for it instead of reading too."""
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and self.clock() - kept[0] < self.ttl_s:
                return kept[1]
            answer = read()
            self._answers[key] = (self.clock(), answer)
            return answer

    def clear(self) -> None:
        """Forget every answer: the next request reads (after a change the board made itself)."""
        with self._lock:
            self._answers.clear()
