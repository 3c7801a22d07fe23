"""The handler's view of its job: ``ctx`` (seeds: guide/job-context)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .durations import Duration, to_seconds
from .errors import CancelledError, RetryError

if TYPE_CHECKING:
    from .worker.runtime import JobRuntime


class AbortSignal:
    """Set when the job should stop: cancelled, timed out, lock lost, or the worker shutting down.

    Handlers that loop or wait check ``aborted`` or wait on ``wait(timeout)`` and return early.
    """

    def __init__(self) -> None:
        # The Event is made only when someone waits: most jobs are never aborted nor waited on.
        self._lock = threading.Lock()
        self._event: threading.Event | None = None
        self._aborted = False
        self.reason: str | None = None
        self._callbacks: list[Callable[[str], Any]] = []

    @property
    def aborted(self) -> bool:
        return self._aborted

    def abort(self, reason: str) -> None:
        with self._lock:
            if self._aborted:
                return
            self.reason = reason
            self._aborted = True
            event = self._event
        if event is not None:
            event.set()
        for callback in list(self._callbacks):
            callback(reason)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until aborted or ``timeout`` seconds pass; True when aborted (an interruptible sleep)."""
        with self._lock:
            if self._aborted:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    def on_abort(self, callback: Callable[[str], Any]) -> None:
        self._callbacks.append(callback)

    def forget(self, callback: Callable[[str], Any]) -> None:
        """Stop calling ``callback`` (registered with ``on_abort``; nothing happens if it was not). A listener
        that names its job forgets itself when done: kept, it and the job would only be freed by the cyclic
        garbage collector, which then has a job's worth of objects to find per job."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def raise_if_aborted(self, job_id: str = "") -> None:
        if self._aborted:
            raise CancelledError(job_id, self.reason)


class ContextLog:
    """``ctx.log.info(message, **meta)``: structured entries stored with the job (and logged)."""

    def __init__(self, write: Callable[[str, str, dict[str, Any]], None]) -> None:
        self._write = write

    def info(self, message: str, **meta: Any) -> None:
        self._write("info", message, meta)

    def warn(self, message: str, **meta: Any) -> None:
        self._write("warn", message, meta)

    warning = warn

    def error(self, message: str, **meta: Any) -> None:
        self._write("error", message, meta)


class Context:
    """Passed as the second argument to handlers that accept one."""

    def __init__(self, job: JobRuntime) -> None:
        self._job = job
        self.id: str = job.id
        self.task: str = job.task_name
        self.attempt: int = job.attempt
        self.max_attempts: int = job.max_attempts
        self.timestamp: int = job.timestamp
        self.signal: AbortSignal = job.signal
        self.log = ContextLog(job.write_log)

    def meta(self, name: str) -> str | None:
        """An extra job-hash field given at dispatch (``meta={name: value}``); front-ends keep their data there."""
        value = self._job.fields.get(name)
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

    def metas(self, prefix: str) -> dict[str, str]:
        """Every extra field whose name starts with ``prefix``, keyed by the rest of the name: one pass over
        the job for a front-end that keeps a dozen fields under one prefix and reads them all per job."""
        cut = len(prefix)
        return {name[cut:]: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                for name, value in self._job.fields.items() if name.startswith(prefix)}

    def hand_off_workflow(self) -> tuple[str, int] | None:
        """Detach this job from its workflow node: ``(workflow id, node)``, or None when it is not a node.

        This job's own outcome then no longer advances (or fails) the workflow; the caller makes another
        job finish the node with :func:`taskora.workflow.hooks.on_completed`/``on_failed`` (the Celery
        front's ``Task.replace``). A worker that dies before acking runs the job again with its node.
        """
        fields = self._job.fields
        wf_id, node = fields.pop("_wf", None), fields.pop("_wfNode", None)
        if not wf_id or node in (None, b"", ""):
            return None
        as_text = [v.decode() if isinstance(v, bytes) else str(v) for v in (wf_id, node)]
        return as_text[0], int(as_text[1])

    def heartbeat(self) -> None:
        """Extend this job's lock now (the worker also does it on its own every third of the lease)."""
        self._job.heartbeat()

    def progress(self, value: Any) -> None:
        """Report progress: a number or any JSON-able object; readable via ``handle.progress()``."""
        self._job.report_progress(value)

    def retry(self, delay: Duration | None = None, reason: str | None = None,
              data: Any = RetryError.KEEP_DATA) -> RetryError:  # fmt: skip
        """Build the error to raise for another attempt: ``raise ctx.retry(delay="5s")``.

        ``data`` replaces the job's input for the next attempt (it is serialized now, so a bad
        value fails here rather than in the worker's bookkeeping).
        """
        seconds = None if delay is None else to_seconds(delay, name="ctx.retry delay")
        if data is not RetryError.KEEP_DATA:
            self._job.check_serializable(data)
        return RetryError(reason, seconds, data)

    def __repr__(self) -> str:
        return f"<Context {self.task} id={self.id} attempt={self.attempt}>"


def log_entry(level: str, message: str, meta: dict[str, Any], timestamp_ms: int | None = None) -> str:
    """One stored log line (JSON) as the TypeScript taskora writes it (recording 09-progress-logs): compact,
    ``{"level","message","meta"?,"timestamp"}`` with ``meta`` left out when there is none; stamped by the
    app's clock when given (virtual time in a TestRunner)."""
    entry: dict[str, Any] = {"level": level, "message": message}
    if meta:
        entry["meta"] = meta
    entry["timestamp"] = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return json.dumps(entry, default=str, separators=(",", ":"), ensure_ascii=False)
