"""ServiceThreads: start a worker's threads so that a crash in one is reported and, for a service, survived."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger("taskora.worker")


class ServiceThreads:
    """Starts the worker's threads; a service loop (heartbeat, maintenance, cancels, a feeder) that crashes runs
    again after ``RESTART_AFTER_S``.

    Invariant: a crash is always reported (log and ``worker:error``); a service thread runs until ``cold`` is
    set, since without its heartbeat a worker's locks would lapse and its running jobs run twice.
    """

    RESTART_AFTER_S = 1.0

    def __init__(self, events: Any, cold: threading.Event) -> None:
        self.events = events
        self.cold = cold

    def spawn(self, name: str, target: Any, *args: Any, restart: bool = False) -> threading.Thread:
        thread = threading.Thread(target=self._guard, args=(target, restart, *args), name=name, daemon=True)
        thread.start()
        return thread

    def _guard(self, target: Any, restart: bool, *args: Any) -> None:
        while True:
            try:
                target(*args)
                return
            except Exception as exc:
                log.exception("worker thread %s crashed%s", threading.current_thread().name,
                              "; it starts again" if restart else "")
                self.events.emit("worker:error", exc)
            if not restart or self.cold.wait(self.RESTART_AFTER_S):
                return

    @staticmethod
    def join(threads: list[threading.Thread], deadline: float | None) -> bool:
        """Wait for ``threads`` until ``deadline`` (monotonic; None: forever); True if all of them ended."""
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)
