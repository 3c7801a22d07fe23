"""Lamport clock: the ``clock`` field every event carries, so monitors can order events of many processes."""

from __future__ import annotations

import threading


class LamportClock:
    """``forward()`` for each event sent; ``adjust(other)`` for each event received (max of both, plus one)."""

    def __init__(self, initial_value: int = 0) -> None:
        self.value = initial_value
        self._mutex = threading.Lock()

    def forward(self) -> int:
        with self._mutex:
            self.value += 1
            return self.value

    def adjust(self, other: int) -> int:
        with self._mutex:
            self.value = max(self.value, int(other)) + 1
            return self.value
