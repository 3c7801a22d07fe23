"""``app.events.Receiver``: reads events as they happen and hands each to its handler.

It reads two kinds of source on the connection's engine, in one blocking read: the monitor stream that
``Dispatcher.send`` writes, and the per-task event streams the engine writes for every job transition (translated
in transitions.py). The tasks whose streams it reads are the app's own and those live workers serve (the worker
registry), looked up again every few seconds while capturing.

Like Celery's memory transport, a receiver sees only what is sent after its queue exists: the first
``receiver.queue(channel).declare()`` (or the first capture) pins its position at each stream's end.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from ._clock import LamportClock
from .transitions import celery_event, engine_hostname, jobs_of

Handler = Callable[[dict[str, Any]], Any]
#: Longest one read blocks, so ``should_stop`` and a ``timeout`` are looked at in time.
READ_BLOCK_S = 1.0
#: How often a capture looks for tasks newly served by live workers.
REDISCOVER_S = 2.0


class EventQueue:
    """``receiver.queue``: call it with a channel to bind it; ``declare()`` pins the receiver's start at now."""

    def __init__(self, receiver: Receiver, channel: Any = None) -> None:
        self.receiver = receiver
        self.channel = channel
        self.name = f"{receiver.queue_prefix}.{receiver.node_id}"

    def __call__(self, channel: Any) -> EventQueue:
        return EventQueue(self.receiver, channel)

    def bind(self, channel: Any) -> EventQueue:
        return self(channel)

    def declare(self, nowait: bool = False, channel: Any = None) -> str:
        self.receiver.pin()
        return self.name


class Receiver:
    """``Receiver(connection, handlers={'task-failed': fn, '*': state.event}).capture(limit, timeout)``."""

    def __init__(self, channel: Any, handlers: dict[str, Handler] | None = None, routing_key: str = "#",
                 node_id: str | None = None, app: Any = None, queue_prefix: str | None = None, accept: Any = None,
                 queue_ttl: float | None = None, queue_expires: float | None = None) -> None:  # fmt: skip
        self.connection = our_connection(channel, app)
        self.app = app if app is not None else self.connection.app
        self.handlers = {} if handlers is None else handlers
        self.routing_key = routing_key
        self.node_id = node_id or str(uuid.uuid4())
        self.queue_prefix = queue_prefix or self.app.conf.get("event_queue_prefix") or "celeryev"
        self.clock = LamportClock()
        self.should_stop = False
        self.queue = EventQueue(self)
        self._positions: dict[str, str] | None = None
        self._tasks_by_stream: dict[str, str] = {}
        self._pending: deque[dict[str, Any]] = deque()
        self._discovered_at = 0.0
        self._pinned_at = "0-0"

    # -- position ---------------------------------------------------------------------------------------
    def pin(self) -> None:
        """Start at the current end of every stream (once; later calls keep the pinned position)."""
        if self._positions is not None:
            return
        adapter = self.connection.adapter
        with self.connection.errors():
            self._pinned_at = adapter.stream_time_position()
            positions = {adapter.monitor_events_key(): adapter.monitor_events_end()}
            self._positions = positions
            self._watch_tasks(at_end=True)

    def _watch_tasks(self, at_end: bool = False) -> None:
        """Read the streams of the app's tasks and of those live workers serve: from their end when pinning, and
        a stream found later from the pin's time (what happened since the pin, not its history)."""
        adapter = self.connection.adapter
        names = set(self.app.__taskora_app__.tasks) | adapter.served_by_live_workers()
        assert self._positions is not None
        for name in sorted(names):
            stream = adapter.keys.events(name)
            if stream not in self._positions:
                self._positions[stream] = adapter.last_event_id(name) if at_end else self._pinned_at
                self._tasks_by_stream[stream] = name
        self._discovered_at = time.monotonic()

    # -- capturing ----------------------------------------------------------------------------------------
    def capture(self, limit: int | None = None, timeout: float | None = None, wakeup: bool = True) -> None:
        """Handle events until ``limit`` of them (None: forever, or until ``should_stop``); ``timeout`` seconds
        without an event raise ``socket.timeout`` (``TimeoutError``), as Celery's receiver does."""
        for _event in self.itercapture(limit=limit, timeout=timeout, wakeup=wakeup):
            pass

    def itercapture(self, limit: int | None = None, timeout: float | None = None,
                    wakeup: bool = True) -> Iterator[dict[str, Any]]:  # fmt: skip
        """Like :meth:`capture`, yielding each event after its handler ran. ``wakeup`` is accepted: workers here
        send no heartbeats to wake up (see docs, "Celery events")."""
        self.pin()
        seen, idle_since = 0, time.monotonic()
        while not self.should_stop and (limit is None or seen < limit):
            if not self._pending:
                self._fill(_block_s(timeout, idle_since))
            if not self._pending:
                _check_idle(timeout, idle_since)
                continue
            event = self._pending.popleft()
            self.process(event["type"], event)
            seen, idle_since = seen + 1, time.monotonic()
            yield event

    def consume(self, limit: int | None = None, timeout: float | None = None,
                safety_interval: float = 1, **kwargs: Any) -> Iterator[dict[str, Any]]:  # fmt: skip
        return self.itercapture(limit=limit, timeout=timeout)

    def process(self, type: str, event: dict[str, Any]) -> None:  # noqa: A002
        """Call the handler for ``type``, else the ``'*'`` handler, if any."""
        handler = self.handlers.get(type) or self.handlers.get("*")
        if handler is not None:
            handler(event)

    # -- reading ---------------------------------------------------------------------------------------------
    def _fill(self, block_s: float) -> None:
        """One blocking read of every stream; the events found join ``_pending`` in the order they happened."""
        assert self._positions is not None
        with self.connection.errors():
            if time.monotonic() - self._discovered_at >= REDISCOVER_S:
                self._watch_tasks()
            replies = self.connection.adapter.read_events(dict(self._positions), max(1, int(block_s * 1000)))
        found: list[tuple[tuple[int, int], dict[str, Any]]] = []
        for stream, entries in replies:
            found.extend(self._translate(_text(stream), entries))
        self._pending.extend(event for _order, event in sorted(found, key=lambda pair: pair[0]))

    def _translate(self, stream: str, entries: list[Any]) -> list[tuple[tuple[int, int], dict[str, Any]]]:
        assert self._positions is not None
        if entries:
            self._positions[stream] = _text(entries[-1][0])
        rows = [(_text(entry_id), {_text(k): v for k, v in raw.items()}) for entry_id, raw in entries]
        task = self._tasks_by_stream.get(stream)
        events = self._monitor_events(rows) if task is None else self._task_events(task, rows)
        return [(_order(entry_id), event) for entry_id, event in events if event is not None]

    def _monitor_events(self, rows: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any] | None]]:
        return [(entry_id, self.event_from_message(json.loads(_text(fields.get("event", b"{}")))))
                for entry_id, fields in rows]  # fmt: skip

    def _task_events(self, task: str, rows: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, Any]]:
        """The Celery events of one task stream's entries; the job fields they need are read in one pipeline."""
        adapter = self.connection.adapter
        entries = [{k: _text(v) for k, v in fields.items()} for _entry_id, fields in rows]
        jobs = jobs_of(adapter, task, entries)
        hostname, decode = engine_hostname(adapter), self._decoder()
        out = []
        for (entry_id, _raw), fields in zip(rows, entries, strict=True):
            event = celery_event(decode, task, entry_id, fields, hostname, jobs.get(fields.get("jobId", "")))
            out.append((entry_id, None if event is None else self.event_from_message(event)))
        return out

    def _decoder(self) -> Callable[[Any], Any]:
        serializer = self.app.__taskora_app__.serializer
        return getattr(serializer, "loads_result", serializer.loads)

    def event_from_message(self, body: dict[str, Any], localize: bool = True, now: Callable[[], float] = time.time,
                           CLIENT_CLOCK_MAX_DRIFT: float = 0.1) -> dict[str, Any]:  # noqa: N803
        """Stamp an event as received: its Lamport ``clock`` merged into ours, ``local_received`` now."""
        clock = body.get("clock")
        body["clock"] = self.clock.adjust(clock) if clock else self.clock.forward()
        body["local_received"] = now()
        return body

    def wakeup_workers(self, channel: Any = None) -> None:
        """Nothing to wake: taskora workers send no heartbeat events (see docs, "Celery events")."""


def our_connection(channel: Any, app: Any) -> Any:
    """The ``app.connection()`` object behind ``channel`` (a connection or its channel); ``app.connection()`` when
    none is given and the app is; a ``ConfigurationError`` for anything else (a kombu connection reaches no engine)."""
    from ..app._connection import Connection

    connection = getattr(channel, "connection", None) or channel
    if connection is None and app is not None:
        return app.connection()
    if not isinstance(connection, Connection):
        from taskora.errors import ConfigurationError

        raise ConfigurationError(f"expected a connection from app.connection() (or its default_channel), "
                                 f"got {type(channel).__name__}: {channel!r}")
    return connection


def _block_s(timeout: float | None, idle_since: float) -> float:
    if timeout is None:
        return READ_BLOCK_S
    return max(0.001, min(READ_BLOCK_S, idle_since + timeout - time.monotonic()))


def _check_idle(timeout: float | None, idle_since: float) -> None:
    if timeout is not None and time.monotonic() - idle_since >= timeout:
        raise TimeoutError(f"no event in {timeout} s")  # socket.timeout is this class


def _order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
