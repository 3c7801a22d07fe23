"""Worker threads: ``ServiceThreads`` starts a worker's threads so that a crash in one is reported and, for a
service, survived; ``Periodic`` runs one step every N seconds (the autoscaler, the look for unknown task names,
the served-task beat) and outlives a Redis outage or a failed step."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..adapters.base import CONNECTION_ERRORS

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


class Periodic:
    """Runs ``step`` every ``every_s`` seconds on a daemon thread named ``name`` until ``stop()``.

    A step that cannot reach Redis is logged at debug level (the next step tries again, once Redis is back); any
    other error is logged with its traceback and the steps go on: a periodic duty that died silently would stop
    doing its job (resizing the pool, failing unknown jobs, keeping this worker's task names known) unseen.
    """

    def __init__(self, name: str, step: Callable[[], object], every_s: float, *, what: str) -> None:
        self.name = name
        self.step = step
        self.every_s = every_s
        #: What a step does, for the log ("autoscale: reading the backlog").
        self.what = what
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait up to ``timeout`` seconds for the step it may be in."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.step()
            except CONNECTION_ERRORS as exc:
                log.debug("%s failed, tried again in %.1fs: %s", self.what, self.every_s, exc)
            except Exception:
                log.exception("%s failed; tried again in %.1fs", self.what, self.every_s)
