"""Live updates: one reader of the tasks' event streams per board process, fanned out to every open browser.

A browser holds one Server-Sent Events connection; the hub's thread does the only XREAD (blocking, through
the adapter) and hands each batch of events to every connection's queue on that connection's event loop.
No browser polls: a page re-reads what it shows when events arrive. The thread runs while someone listens.

Each connection's first item is ``ready``: from then on no event misses it. A page was drawn before its
connection was ready (and again before a reconnect was), so it re-reads once on ``ready``: whatever changed
in between shows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..adapters.base import CONNECTION_ERRORS

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.board")

Batch = list[dict[str, str]]
_T = TypeVar("_T")  # what a read of the reader thread returns
#: What a connection's queue holds: an SSE event's name ("ready" or "jobs") and its data.
Item = tuple[str, Batch]
READY: Item = ("ready", [])


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
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Item]]] = []
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        #: Set once the reader has taken its start positions: events after that reach every listener.
        self.reading = threading.Event()

    def subscribe(self) -> asyncio.Queue[Item]:
        """A queue of items for one connection, ``READY`` first (see the module's docstring), then ("jobs", batch)
        per batch of events; call from the connection's event loop."""
        queue: asyncio.Queue[Item] = asyncio.Queue(self.QUEUE_SIZE)
        with self._lock:  # the reader marks itself reading under this lock: READY comes from here or from it
            self._subscribers.append((asyncio.get_running_loop(), queue))
            if self._thread is None or not self._thread.is_alive():
                self._stopped.clear()
                self.reading.clear()
                self._thread = threading.Thread(target=self._run, name="taskora-board-events", daemon=True)
                self._thread.start()
            elif self.reading.is_set():
                queue.put_nowait(READY)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Item]) -> None:
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
        streams = {self.app.adapter.keys.events(name): name for name in self.app.tasks}
        positions = self._while_wanted("reading where the event streams end",
                                       lambda: {s: self.app.adapter.last_event_id(t) for s, t in streams.items()})
        if positions is None:
            return
        self._announce_ready()
        while not positions and self._still_wanted():  # an app without tasks: nothing to read, XREAD would not block
            self._stopped.wait(self.BLOCK_MS / 1000)
        while positions:
            replies = self._while_wanted("reading the event streams",
                                         lambda: self.app.adapter.read_events(positions, block_ms=self.BLOCK_MS))
            if replies is None:
                return
            batch = self._batch(replies, streams, positions)
            if batch:
                self._publish(("jobs", batch))

    def _announce_ready(self) -> None:
        """Mark the reader as reading and hand READY to every listener, in one step with the snapshot of them: one
        joining later sees reading set, and gets READY from ``subscribe``."""
        with self._lock:
            self.reading.set()
            listening_now = list(self._subscribers)
        _offer_to(listening_now, READY)

    def _while_wanted(self, doing: str, read: Callable[[], _T]) -> _T | None:
        """``read()``, tried again a second later while Redis is away; None once nobody listens any more."""
        while self._still_wanted():
            try:
                return read()
            except CONNECTION_ERRORS as exc:
                log.warning("board: %s failed (%s); retrying", doing, exc)
                self._stopped.wait(1.0)
        return None

    def _still_wanted(self) -> bool:
        """Whether to read on. The thread that says no forgets itself in the same step, so a listener arriving
        while it ends starts a new reader rather than joining one that is leaving."""
        with self._lock:
            if self._subscribers and not self._stopped.is_set():
                return True
            self.reading.clear()
            if self._thread is threading.current_thread():
                self._thread = None
            return False

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

    def _publish(self, item: Item) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        _offer_to(subscribers, item)


def _offer_to(subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Item]]], item: Item) -> None:
    """Hand ``item`` to each subscriber's queue on its own event loop (called from the reader thread)."""
    for loop, queue in subscribers:
        try:
            loop.call_soon_threadsafe(_offer, queue, item)
        except RuntimeError:  # that connection's loop has closed; it unsubscribes on its way out
            pass


def _offer(queue: asyncio.Queue[Item], item: Item) -> None:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:
        pass
