"""Live updates: one reader of the tasks' event streams per board process, fanned out to every open browser.

A browser holds one Server-Sent Events connection; the hub's thread does the only XREAD (blocking, through
the adapter) and hands each batch of events to every connection's queue on that connection's event loop.
No browser polls: a page re-reads what it shows when events arrive. The thread runs while someone listens.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from ..adapters.base import CONNECTION_ERRORS

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.board")

Batch = list[dict[str, str]]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class EventHub:
    """The board's single event-stream reader and its subscribers (asyncio queues)."""

    #: Longest one XREAD blocks (ms): how soon the thread notices it has no listeners left.
    BLOCK_MS = 1000
    #: Batches a slow browser may have queued before newer ones are dropped (its next batch refreshes it).
    QUEUE_SIZE = 100

    def __init__(self, app: Taskora) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Batch]]] = []
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        #: Set once the reader has taken its start positions: events after that reach every listener.
        self.reading = threading.Event()

    def subscribe(self) -> asyncio.Queue[Batch]:
        """A queue of event batches for one connection; call from the connection's event loop."""
        queue: asyncio.Queue[Batch] = asyncio.Queue(self.QUEUE_SIZE)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue))
            if self._thread is None or not self._thread.is_alive():
                self._stopped.clear()
                self.reading.clear()
                self._thread = threading.Thread(target=self._run, name="taskora-board-events", daemon=True)
                self._thread.start()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Batch]) -> None:
        with self._lock:
            self._subscribers = [(lp, q) for lp, q in self._subscribers if q is not queue]

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def stop(self) -> None:
        self._stopped.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=self.BLOCK_MS / 1000 + 2)

    # -- the reader thread --------------------------------------------------------------------
    def _run(self) -> None:
        adapter = self.app.adapter
        streams = {adapter.keys.events(name): name for name in self.app.tasks}
        positions = {stream: adapter.last_event_id(task) for stream, task in streams.items()}
        self.reading.set()
        while not self._stopped.is_set() and self.listeners:
            if not positions:  # an app without tasks: nothing to read, and XREAD would not block
                self._stopped.wait(self.BLOCK_MS / 1000)
                continue
            try:
                replies = adapter.read_events(positions, block_ms=self.BLOCK_MS)
            except CONNECTION_ERRORS as exc:
                log.warning("board: reading the event streams failed (%s); retrying", exc)
                self._stopped.wait(1.0)
                continue
            batch = self._batch(replies, streams, positions)
            if batch:
                self._publish(batch)

    @staticmethod
    def _batch(replies: list[Any], streams: dict[str, str], positions: dict[str, str]) -> Batch:
        batch: Batch = []
        for stream, entries in replies:
            name = _text(stream)
            for entry_id, fields in entries:
                positions[name] = _text(entry_id)
                decoded = {_text(k): _text(v) for k, v in dict(fields).items()}
                batch.append({"task": streams.get(name, ""), "event": decoded.get("event", ""),
                              "jobId": decoded.get("jobId", "")})
        return batch

    def _publish(self, batch: Batch) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(_offer, queue, batch)
            except RuntimeError:  # that connection's loop has closed; it unsubscribes on its way out
                pass


def _offer(queue: asyncio.Queue[Batch], batch: Batch) -> None:
    try:
        queue.put_nowait(batch)
    except asyncio.QueueFull:
        pass
