"""Lifecycle events: names declared once, listeners isolated (a failing listener is logged, never fatal)."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("taskora.events")

#: Events a task emits (``task.on(name, fn)``); the app re-emits them as ``task:<name>``.
TASK_EVENTS = frozenset({"waiting", "delayed", "active", "completed", "failed", "retrying", "progress",
                         "stalled", "cancelled", "expired", "collect", "debounced"})
#: Events of the app and its workers.
APP_EVENTS = frozenset({f"task:{name}" for name in TASK_EVENTS} | {"worker:ready", "worker:error", "worker:closing",
                                                                   "worker:process-init", "worker:shutdown",
                                                                   "worker:process-shutdown", "worker:heartbeat",
                                                                   "worker:task-unknown",
                                                                   "scheduler:start",
                                                                   "workflow:failed", "workflow:cancelled"})


@dataclass
class Event:
    """One observed transition; fields not relevant to an event stay None."""

    name: str
    task: str
    id: str
    attempt: int | None = None
    result: Any = None  # completed: what handle.result() returns (taskora/event_values.py)
    error: str | None = None  # failed, retrying: the stored message
    will_retry: bool | None = None
    next_attempt_at: int | None = None
    duration: float | None = None
    progress: Any = None
    reason: str | None = None
    count: int | None = None
    action: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    raw_result: str | bytes | None = None  # completed: the result as stored (serialized)
    exception: BaseException | None = None  # failed: the JobFailedError handle.result() raises


class Emitter:
    """Named listener lists; ``emit`` calls each listener, logging (not raising) their errors."""

    def __init__(self, allowed: frozenset[str], owner: str) -> None:
        self._allowed = allowed
        self._owner = owner
        self._listeners: dict[str, list[Callable[..., Any]]] = defaultdict(list)
        self._lock = threading.Lock()

    def on(self, name: str, listener: Callable[..., Any]) -> Callable[[], None]:
        """Subscribe; returns a function that unsubscribes."""
        if name not in self._allowed:
            raise ValueError(f"{self._owner} has no event {name!r}; events: {', '.join(sorted(self._allowed))}")
        with self._lock:
            self._listeners[name].append(listener)

        def off() -> None:
            with self._lock:
                if listener in self._listeners[name]:
                    self._listeners[name].remove(listener)

        return off

    def has(self, name: str) -> bool:
        return bool(self._listeners.get(name))

    def emit(self, name: str, *payload: Any) -> None:
        for listener in list(self._listeners.get(name, ())):
            try:
                listener(*payload)
            except Exception:
                log.exception("%s listener for %r raised; the event goes on to the others", self._owner, name)
