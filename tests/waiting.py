"""Waiting on another process's (or thread's) visible state, for tests that have no event to await."""

from __future__ import annotations

import gc
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any


def wait_until(condition: Callable[[], Any], timeout: float = 15.0, what: str = "the condition") -> Any:
    """Poll ``condition`` until it returns something truthy and return that; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def collect_dropped_connections(timeout: float = 10.0) -> None:
    """Collect the connections redis-py's clients dropped unclosed (a failover, a refused TLS handshake), once the
    last closed app's thread holding one has ended: at a module's end, not in whichever later test the collector
    happens to run in, where the suite's ``filterwarnings = error`` would fail that test."""
    deadline = time.monotonic() + timeout
    while _taskora_threads() and time.monotonic() < deadline:
        _taskora_threads()[0].join(max(0.0, deadline - time.monotonic()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _taskora_threads() -> list[threading.Thread]:
    """Threads of taskora apps still running (their names start with "taskora")."""
    return [t for t in threading.enumerate() if t.name.startswith("taskora")]
