"""``app.events.Dispatcher``: sends events for monitors, stamped as Celery stamps them.

An event goes to the engine's monitor stream (``<root>:monitor-events``, see taskora/adapters/monitor_events.py),
where every ``Receiver`` on the same engine reads it. Task transitions need no dispatcher: the engine records them
and receivers translate them (receiver.py).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ._clock import LamportClock
from .receiver import our_connection


def utcoffset() -> int:
    """Hours west of UTC, as Celery's ``utcoffset`` field is."""
    offset = time.altzone if time.daylight and time.localtime().tm_isdst else time.timezone
    return offset // 3600


class Dispatcher:
    """``with app.events.Dispatcher(connection) as d: d.send('task-received', uuid=...)``."""

    def __init__(self, connection: Any = None, hostname: str | None = None, enabled: bool = True,
                 channel: Any = None, buffer_while_offline: bool = True, app: Any = None, serializer: Any = None,
                 groups: Any = None, delivery_mode: Any = None, buffer_group: Any = None, buffer_limit: int = 24,
                 on_send_buffered: Any = None) -> None:  # fmt: skip
        given = connection if connection is not None else channel
        self._owns_connection = given is None
        self.connection = our_connection(given, app)
        self.app = app if app is not None else self.connection.app
        self.hostname = hostname or self.app.hostname
        self.enabled = enabled
        self.groups = set(groups) if groups else None
        self.clock = getattr(self.app, "clock", None) or LamportClock()
        self.pid = os.getpid()
        self.on_enabled: set[Any] = set()
        self.on_disabled: set[Any] = set()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def enable(self) -> None:
        self.enabled = True
        for callback in self.on_enabled:
            callback()

    def disable(self) -> None:
        self.enabled = False
        for callback in self.on_disabled:
            callback()

    def send(self, type: str, blind: bool = False, utcoffset: Any = utcoffset, retry: bool = False,
             retry_policy: Any = None, Event: Any = None, **fields: Any) -> dict[str, Any] | None:  # noqa: A002, N803
        """Stamp and publish one event (nothing when disabled, or its group is not enabled); returns it."""
        if not self.enabled or not self._group_enabled(type):
            return None
        event = dict(fields, type=type, hostname=self.hostname, utcoffset=utcoffset(), pid=self.pid,
                     clock=None if blind else self.clock.forward(), timestamp=None if blind else time.time())
        self.publish(type, event)
        return event

    def _group_enabled(self, type_: str) -> bool:
        return self.groups is None or type_.partition("-")[0] in self.groups

    def publish(self, type: str, fields: dict[str, Any], producer: Any = None, blind: bool = False,
                Event: Any = None, **kwargs: Any) -> None:  # noqa: A002, N803
        """Append the event to the monitor stream; an unreachable engine raises kombu's ``OperationalError``."""
        payload = json.dumps(dict(fields, type=type), default=repr)
        with self.connection.errors():
            self.connection.adapter.publish_monitor_event(payload)

    def flush(self, errors: bool = True, groups: bool = True) -> None:
        """Nothing is buffered: every event is written when sent."""

    def close(self) -> None:
        if self._owns_connection:
            self.connection.release()
