"""Celery's ``RedisBackend.result_consumer``: a pub/sub subscription per awaited task id, drained for results.

Celery's Redis backend publishes a task's meta on the channel named like its result key when the task
finishes, and a ``ResultConsumer`` subscribes to the ids being waited for. taskora's own waits read the job's
event stream instead, so this consumer is for code that drives it directly (``start``, ``consume_from``,
``cancel_for``, ``drain_events``, ``stop``). What it delivers is true of taskora's store:

* the channel of an id is its backend key (``RedisBackend.get_key_for_task``); explicit backend writes of a
  ready state (``store_result``, ``mark_as_*``) are published there, as Celery's backend does;
* a job finished by a worker is not published on it, so ``drain_events`` also reads the state of every
  subscribed id and reports the ready ones (``on_state_change(meta, None)``).

One pub/sub connection is shared by every thread (redis-py's is not thread-safe): commands and reads take
turns through a guard that lets subscribe/unsubscribe go ahead of a draining thread. A command issued on the
thread that is already inside one (a finalizer running ``cancel_for`` while ``subscribe`` is on the wire) is
queued and sent once the outer command returns, never nested on the connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .. import states

__all__ = ["ResultConsumer"]


class _TurnGuard:
    """Exclusive use of the connection; commands first, drains when no command waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._commands_waiting = 0

    def held_by_me(self) -> bool:
        return self._owner == threading.get_ident()

    def acquire(self, command: bool) -> None:
        with self._cond:
            self._commands_waiting += command
            while self._owner is not None or (not command and self._commands_waiting):
                self._cond.wait()
            self._commands_waiting -= command
            self._owner = threading.get_ident()

    def release(self) -> None:
        with self._cond:
            self._owner = None
            self._cond.notify_all()


class ResultConsumer:
    """Subscriptions to the result channels of awaited ids on the backend's store (see the module docstring)."""

    #: Longest single read while draining: the connection is handed to waiting commands between reads.
    read_slice_s = 0.01

    def __init__(self, backend: Any, on_state_change: Callable[[dict[str, Any], Any], Any] | None = None) -> None:
        self.backend = backend
        self.on_state_change = on_state_change or self._remember
        self.subscribed_to: set[str] = set()
        #: Metas of the ids found ready (by ``drain_events``), when no ``on_state_change`` was given.
        self.ready: dict[str, dict[str, Any]] = {}
        self._pubsub: Any = None
        self._guard = _TurnGuard()
        self._queued: list[tuple[str, str]] = []

    def _get_key_for_task(self, task_id: str, key: str = "") -> str:
        return str(self.backend.get_key_for_task(task_id, key))

    def start(self, initial_task_id: str, **kwargs: Any) -> None:
        """Open the subscription connection and subscribe to ``initial_task_id``."""
        if self._pubsub is None:
            self._pubsub = self.backend.client.pubsub(ignore_subscribe_messages=True)
        self.consume_from(initial_task_id)

    def on_after_fork(self) -> None:
        """A forked child must not share its parent's connection: drop it (the child subscribes anew)."""
        self._pubsub = None
        self.subscribed_to.clear()

    def consume_from(self, task_id: str) -> None:
        self._send("subscribe", self._get_key_for_task(task_id))

    def cancel_for(self, task_id: str) -> None:
        self._send("unsubscribe", self._get_key_for_task(task_id))

    def stop(self) -> None:
        """Close the connection: the server forgets every channel it was subscribed to."""
        if self._pubsub is None:
            return
        self._guard.acquire(command=True)
        try:
            self._pubsub.close()
            self._pubsub = None
            self.subscribed_to.clear()
        finally:
            self._guard.release()

    # -- commands -----------------------------------------------------------------------------------
    def _send(self, command: str, channel: str) -> None:
        if self._pubsub is None:
            raise RuntimeError("ResultConsumer.start() must be called before subscribing")
        if self._guard.held_by_me():  # re-entered from inside a command: send it after that one
            self._queued.append((command, channel))
            return
        self._guard.acquire(command=True)
        try:
            self._queued.append((command, channel))
            while self._queued:
                self._apply(*self._queued.pop(0))
        finally:
            self._guard.release()

    def _apply(self, command: str, channel: str) -> None:
        if command == "subscribe":
            if channel not in self.subscribed_to:
                self._pubsub.subscribe(channel)
                self.subscribed_to.add(channel)
        elif channel in self.subscribed_to:
            self._pubsub.unsubscribe(channel)
            self.subscribed_to.discard(channel)

    # -- draining -----------------------------------------------------------------------------------
    def drain_events(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` for published results, then report every subscribed id that is ready."""
        deadline = time.monotonic() + (timeout or 0.0)
        while self._read_one(max(0.0, deadline - time.monotonic())) and time.monotonic() < deadline:
            pass
        self._report_ready()

    def _read_one(self, left: float) -> bool:
        """One read of at most ``read_slice_s``; False once the time is up."""
        if self._pubsub is None:
            return False
        self._guard.acquire(command=False)
        try:
            message = self._pubsub.get_message(timeout=min(self.read_slice_s, left)) if self._pubsub else None
        finally:
            self._guard.release()
        if message and message.get("type") == "message":
            self._on_published(message)
        return left > 0

    def _on_published(self, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        task_id = name.rsplit(":", 1)[-1]
        self.on_state_change(self.backend.get_task_meta(task_id), message)

    def _report_ready(self) -> None:
        for channel in list(self.subscribed_to):
            task_id = channel.rsplit(":", 1)[-1]
            meta = self.backend.get_task_meta(task_id)
            if meta["status"] in states.READY_STATES:
                self.on_state_change(meta, None)

    def _remember(self, meta: dict[str, Any], message: Any) -> None:
        self.ready[meta["task_id"]] = meta
