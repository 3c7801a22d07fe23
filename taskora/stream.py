"""One event-stream reader per app: it resolves result waiters and feeds ``on(...)`` listeners.

Waiting on a result never polls. A waiter registers a callback, the reader makes sure it reads
the task's stream from the current end (fixed *before* the waiter looks at the job once), and the
first final event for the job wakes it. A result that landed before the waiter came is found by
that one look. A stream nobody waits on or listens to any more is dropped from the read, so a
producer that once waited on a result is not woken by every later event of that task.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .adapters.base import CONNECTION_ERRORS
from .errors import SchemaVersionMismatchError

if TYPE_CHECKING:
    from .app import Taskora

log = logging.getLogger("taskora.stream")

#: Job states after which nothing more happens to a job.
FINAL_STATES = frozenset({"completed", "failed", "cancelled", "expired"})
#: Events that end a wait: a final state, or a debounce that replaced (deleted) the job.
ENDING_EVENTS = FINAL_STATES | {"debounced"}
#: Fields a waiter needs to turn a final job into a value or an error.
RESULT_FIELDS = ("state", "result", "error", "errorDetail", "cancelReason")
#: Event fields that carry serialized payloads: kept as bytes, for any serializer (``value`` is a
#: progress event's payload; ``progress`` is where older Python versions put it).
PAYLOAD_EVENT_FIELDS = frozenset({"result", "progress", "value"})

Callback = Callable[[dict[str, Any]], None]
#: ``_wait_alone``'s answer when the shared reader has to take over.
_NOT_ALONE = object()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class EventStream:
    """Reads the ``:events`` streams of the tasks this process waits on or listens to."""

    #: How long one XREAD blocks; a stream added meanwhile joins the read when it returns.
    BLOCK_MS = 100
    #: Longest one XREAD of a waiter reading alone blocks before it looks at its deadline again.
    ALONE_BLOCK_S = 5.0

    def __init__(self, app: Taskora) -> None:
        self.app = app
        self.adapter = app.adapter
        self._lock = threading.Lock()
        self._positions: dict[str, str | None] = {}  # None: the stream's end, not read yet (listen)
        self._tasks_by_stream: dict[str, str] = {}
        self._waiters: dict[tuple[str, str], list[Callback]] = defaultdict(list)
        self._waiting_on: Counter[str] = Counter()  # waiters per task
        self._alone_on: Counter[str] = Counter()  # waiters per task reading the stream themselves
        self._listening: set[str] = set()
        self._wakeup = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stopped = False

    # -- waiters ----------------------------------------------------------------------------------
    def subscribe(self, task: str, job_id: str, callback: Callback, *,
                  missing_ends: bool = False) -> Callable[[], None]:  # fmt: skip
        """Call ``callback(fields)`` once when the job is final; returns an unsubscribe function. With
        ``missing_ends``, at once with ``{}`` when there is no such job (never dispatched, or trimmed by
        retention already: no event would come); without, a job not created yet (a workflow's later node) is
        waited for."""
        delivered = threading.Event()

        def deliver_once(fields: dict[str, Any]) -> None:
            if not delivered.is_set():
                delivered.set()
                callback(fields)

        key = (task, job_id)
        with self._lock:
            self._waiters[key].append(deliver_once)
            self._waiting_on[task] += 1
        self.watch(task)
        fields = self.adapter.get_fields(task, job_id, RESULT_FIELDS)
        if fields.get("state") in FINAL_STATES or (missing_ends and fields.get("state") is None):
            self._pop_waiters(key)
            deliver_once(fields if fields.get("state") else {})

        def unsubscribe() -> None:
            with self._lock:
                waiting = self._waiters.get(key)
                if waiting and deliver_once in waiting:
                    waiting.remove(deliver_once)
                    self._waiting_on[task] -= 1
                    if not waiting:
                        del self._waiters[key]

        return unsubscribe

    def wait(self, task: str, job_id: str, timeout: float | None, *,
             missing_ends: bool = False) -> dict[str, Any] | None:  # fmt: skip
        """Block until the job is final; returns its result fields, or None on timeout.

        When the reader is not reading the task's stream anyway (no other waiter, no listener), the
        calling thread reads it itself: the final event then wakes the waiter directly, instead of
        waking the reader thread, which then wakes the waiter. One such waiter per task at a time;
        more join the shared reader, so a hundred waiting threads do not each read every event."""
        with self._lock:
            alone = (self._waiting_on[task] <= 0 and self._alone_on[task] == 0 and task not in self._listening)
            if alone:
                self._alone_on[task] += 1
        if not alone:
            return self._wait_shared(task, job_id, timeout, missing_ends)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            fields = self._wait_alone(task, job_id, deadline, missing_ends)
        except SchemaVersionMismatchError:
            raise  # a store this process cannot speak to (a replaced one): no outage to wait out
        except CONNECTION_ERRORS as exc:
            log.warning("reading the events of %s failed (%s); the shared reader takes over", task, exc)
            fields = _NOT_ALONE
        finally:
            with self._lock:
                self._alone_on[task] -= 1
        if fields is _NOT_ALONE:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            return self._wait_shared(task, job_id, left, missing_ends)
        return fields  # type: ignore[return-value]

    def _wait_alone(self, task: str, job_id: str, deadline: float | None,
                    missing_ends: bool) -> dict[str, Any] | None | object:  # fmt: skip
        got = self.adapter.stream_end_and_fields(task, job_id, RESULT_FIELDS)
        if got is None:
            return _NOT_ALONE
        position, fields = got
        if fields.get("state") in FINAL_STATES:
            return fields
        if missing_ends and fields.get("state") is None:
            return None  # no such job (or trimmed by retention already): no event will come; the caller says so
        stream = self.adapter.keys.events(task)
        while True:
            remaining = self.ALONE_BLOCK_S if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return None
            block_ms = max(1, int(min(remaining, self.ALONE_BLOCK_S) * 1000))
            for _stream, entries in self.adapter.read_events({stream: position}, block_ms):
                for entry_id, raw in entries:
                    position = _text(entry_id)
                    event = _event_fields(raw)
                    if event.get("jobId") == job_id and event.get("event") in ENDING_EVENTS:
                        final = self._final_fields(task, job_id, event["event"], event)
                        if final is not None:
                            return final

    def _wait_shared(self, task: str, job_id: str, timeout: float | None,
                     missing_ends: bool = False) -> dict[str, Any] | None:  # fmt: skip
        done = threading.Event()
        box: list[dict[str, Any]] = []

        def on_final(fields: dict[str, Any]) -> None:
            box.append(fields)
            done.set()

        unsubscribe = self.subscribe(task, job_id, on_final, missing_ends=missing_ends)
        if not done.wait(timeout):
            unsubscribe()
        return box[0] if box and box[0] else None  # {}: no such job (the caller says so)

    # -- listeners --------------------------------------------------------------------------------
    def listen(self, task: str) -> None:
        """Start turning ``task``'s stream entries into task and app events.

        Registering a task on an app with listeners comes here, often at import time, so an unreachable Redis
        never makes it raise: the reader finds where the stream ends once Redis answers again.
        """
        with self._lock:
            self._listening.add(task)
        try:
            self.watch(task)
        except CONNECTION_ERRORS as exc:
            log.warning("listening to %s's events: Redis did not answer (%s); they are read once it does", task, exc)
            self._read_from(task, None)

    # -- the reader ---------------------------------------------------------------------------------
    def watch(self, task: str) -> None:
        stream = self.adapter.keys.events(task)
        with self._lock:
            if self._positions.get(stream) is not None:
                self._ensure_thread()
                return
        self._read_from(task, self.adapter.last_event_id(task))  # also for an end listen left: a waiter looks next

    def _read_from(self, task: str, start: str | None) -> None:
        """Read ``task``'s stream from ``start`` (None: its end, which the reader finds) unless its place is known."""
        stream = self.adapter.keys.events(task)
        with self._lock:
            if self._positions.get(stream) is None:
                self._positions[stream] = start
                self._tasks_by_stream[stream] = task
            self._ensure_thread()
            self._wakeup.notify_all()

    def _with_ends_found(self, positions: dict[str, str | None]) -> dict[str, str]:
        """``positions`` with each stream whose end is not known yet read now (raises while Redis is away)."""
        found: dict[str, str] = {}
        for stream, position in positions.items():
            task = self._tasks_by_stream.get(stream)
            if position is None and task is not None:
                position = self.adapter.last_event_id(task)
                with self._lock:
                    if stream in self._positions and self._positions[stream] is None:
                        self._positions[stream] = position
            if position is not None:
                found[stream] = position
        return found

    def _ensure_thread(self) -> None:
        self._stopped = False
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="taskora-events", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop reading; positions, waiters and listeners stay, and the next watch resumes reading."""
        with self._lock:
            self._stopped = True
            self._wakeup.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)

    def _run(self) -> None:
        backoff = 0.05
        while True:
            with self._lock:
                self._drop_unwatched()
                while not self._positions and not self._stopped:
                    self._wakeup.wait()
                if self._stopped:
                    return
                positions = dict(self._positions)
            try:
                replies = self.adapter.read_events(self._with_ends_found(positions), block_ms=self.BLOCK_MS)
                backoff = 0.05
            except CONNECTION_ERRORS as exc:
                log.warning("event stream read failed (%s); retrying in %.2fs", exc, backoff)
                with self._lock:
                    self._wakeup.wait(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            for stream, entries in replies:
                self._consume(_text(stream), entries)

    def _consume(self, stream: str, entries: list[Any]) -> None:
        task = self._tasks_by_stream.get(stream)
        if task is None or not entries:
            return
        with self._lock:
            self._positions[stream] = _text(entries[-1][0])
            listening = task in self._listening
        for _entry_id, raw in entries:
            fields = _event_fields(raw)
            name, job_id = fields.get("event", ""), fields.get("jobId", "")
            if name in ENDING_EVENTS:
                self._resolve(task, job_id, name, fields)
            if listening:
                try:
                    self.app._emit_stream_event(task, name, job_id, fields)
                except Exception:
                    log.exception("turning a %s event of %s into listeners' calls failed", name, task)

    def _final_fields(self, task: str, job_id: str, event: str, event_fields: dict[str, Any]) -> dict[str, Any] | None:
        """A final event's result fields: from the event when the result rides on it, else from the job."""
        if event == "debounced":  # the job is gone: the waiter learns which job replaced it
            return {"state": "debounced", "replacedBy": event_fields.get("replacedBy")}
        if event == "completed" and "result" in event_fields:  # small results ride on the event
            fields: dict[str, Any] = {"state": "completed", "result": event_fields["result"]}
        else:
            fields = self.adapter.get_fields(task, job_id, RESULT_FIELDS)
        if fields.get("state") is None and event == "completed":
            fields["state"] = "completed"  # completed without keeping its result (keep_result=False)
        return fields if fields.get("state") in FINAL_STATES else None

    def _pop_waiters(self, key: tuple[str, str]) -> list[Callback]:
        with self._lock:
            callbacks = self._waiters.pop(key, [])
            self._waiting_on[key[0]] -= len(callbacks)
            return callbacks

    def _drop_unwatched(self) -> None:
        """Stop reading streams of tasks nobody waits on or listens to (called with the lock held); a
        later waiter starts again from the stream's end, and its one look covers the time in between."""
        for stream, task in list(self._tasks_by_stream.items()):
            if self._waiting_on[task] <= 0 and task not in self._listening:
                self._positions.pop(stream, None)
                del self._tasks_by_stream[stream]

    def _resolve(self, task: str, job_id: str, event: str, event_fields: dict[str, Any]) -> None:
        key = (task, job_id)
        with self._lock:
            if key not in self._waiters:
                return
        fields = self._final_fields(task, job_id, event, event_fields)
        if fields is None:
            return
        for callback in self._pop_waiters(key):
            try:
                callback(fields)
            except Exception:
                log.exception("a result waiter for %s %s raised", task, job_id)


def _event_fields(raw: dict[Any, Any]) -> dict[str, Any]:
    """A stream entry's fields: names and plain values as text, payloads as the stored bytes."""
    fields: dict[str, Any] = {}
    for k, v in raw.items():
        name = _text(k)
        fields[name] = v if name in PAYLOAD_EVENT_FIELDS else _text(v)
    return fields
