"""ResultHandle: what ``dispatch`` returns at once, to wait for, inspect or cancel one job."""

from __future__ import annotations

import asyncio
import functools
import json
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import CancelledError, ExpiredError, JobFailedError, JobNotFoundError, TimeoutError, error_type_of

if TYPE_CHECKING:
    from .app import Taskora
    from .background import BackgroundSender

T = TypeVar("T")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


#: How many of a task's events are searched for the replacement of a debounced job that is gone.
REPLACED_LOOKBACK = 10_000


class ResultHandle(Generic[T]):
    """A job, by id. ``result()`` blocks until it is final; ``aresult()`` is the asyncio twin.

    ``enqueued`` is False when flow control rejected the dispatch; ``existing_id`` then names the
    job that holds the key. ``created`` marks a handle whose dispatch just wrote the job, so an unbounded wait
    on it need not first check that the job exists (every other handle does, see ``result``).

    Under background dispatch (taskora/background.py) the job may not be in Redis yet: ``enqueued`` is None
    until it is, and every method that reads or waits for the job first waits for its send, raising the error
    that kept it out, if any (``ensure_enqueued()`` does only that).
    """

    #: How often an unbounded ``result()`` checks that its job still exists.
    RECHECK_S = 30.0

    def __init__(self, app: Taskora, task: str, job_id: str, *, enqueued: bool | None = True,
                 existing_id: str | None = None, created: bool = False, sender: BackgroundSender | None = None,
                 seq: int = 0) -> None:  # fmt: skip
        self.app = app
        self.task = task
        self.id = job_id
        self._enqueued = enqueued
        self.existing_id = existing_id
        self._created = created
        self._sender = sender  # set while the job waits in a background sender's queue, as its ``seq``-th
        self._seq = seq
        self._send_error: BaseException | None = None

    def __repr__(self) -> str:
        return f"<ResultHandle {self.task} {self.id}>"

    # -- the enqueue --------------------------------------------------------------------------------
    @property
    def enqueued(self) -> bool | None:
        """True once the job is created; False when nothing was (flow control, or its id exists); None while a
        background dispatch has not reached Redis (or failed: ``ensure_enqueued()`` raises why)."""
        return self._enqueued

    def ensure_enqueued(self, timeout: float | None = None) -> bool:
        """Wait until the dispatch reached Redis and return ``enqueued``; raises the error that kept the job out,
        or TimeoutError. Immediate for a dispatch that waited (the default)."""
        self._wait_sent(timeout)
        return bool(self._enqueued)

    async def aensure_enqueued(self, timeout: float | None = None) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.ensure_enqueued, timeout)

    def _wait_sent(self, timeout: float | None = None) -> None:
        sender = self._sender
        if sender is not None:
            sender.wait_sent(self._seq, timeout)
            self._sender = None
        if self._send_error is not None:
            raise self._send_error

    def _sent(self, created: bool | None, error: BaseException | None) -> None:
        """The background sender's outcome for this job (taskora/background.py)."""
        self._enqueued, self._created, self._send_error = created, bool(created), error
        if created is False:
            self.existing_id = self.id  # a job of this id existed: the dispatch created nothing

    # -- waiting ----------------------------------------------------------------------------------
    def result(self, timeout: float | None = None) -> T:
        """The job's return value; raises JobFailedError, CancelledError, ExpiredError or TimeoutError.

        An id with no job (never dispatched, or finished and trimmed by retention before this wait) raises
        JobNotFoundError at once: the wait's first read of the job sees it missing.
        """
        self._wait_sent()
        if timeout is None and not self._created:
            self._check_exists()
        fields = self._wait_final(timeout)
        if fields is None:
            self._check_exists()
            raise TimeoutError(f"job {self.id} ({self.task}) did not finish within {timeout}s")
        return self._outcome(fields)

    def _wait_final(self, timeout: float | None) -> dict[str, Any] | None:
        """The final fields, or None on timeout. An unbounded wait looks every ``RECHECK_S`` whether the job
        still exists: one trimmed by retention between its final event and our wait would otherwise be waited
        for forever (it raises JobNotFoundError instead)."""
        reader = self.app._events_reader()
        if timeout is not None:
            return reader.wait(self.task, self.id, timeout, missing_ends=True)
        while (fields := reader.wait(self.task, self.id, self.RECHECK_S, missing_ends=True)) is None:
            self._check_exists()
        return fields

    def wait_for(self, timeout: float | None = None) -> T:
        """Same as ``result(timeout)`` (the seeds' ``waitFor``)."""
        return self.result(timeout)

    async def aresult(self, timeout: float | None = None) -> T:
        """Await the job's return value without blocking the event loop."""
        loop = asyncio.get_running_loop()
        if self._sender is not None or self._send_error is not None:
            await loop.run_in_executor(None, self._wait_sent)
        if timeout is None and not self._created:
            await loop.run_in_executor(None, self._check_exists)
        future: asyncio.Future[dict[str, Any]] = loop.create_future()

        def on_final(fields: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(settle, fields)

        def settle(fields: dict[str, Any]) -> None:
            if not future.done():
                future.set_result(fields)

        unsubscribe = await loop.run_in_executor(None, functools.partial(
            self.app._events_reader().subscribe, self.task, self.id, on_final, missing_ends=True))
        try:
            fields = await self._await_final(future, timeout)
        except BaseException:
            unsubscribe()
            raise
        return self._outcome(fields)

    async def _await_final(self, future: asyncio.Future[dict[str, Any]], timeout: float | None) -> dict[str, Any]:
        """``future``'s fields; an unbounded wait checks every ``RECHECK_S`` that the job still exists."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                fields = await asyncio.wait_for(asyncio.shield(future), self.RECHECK_S if timeout is None else timeout)
                if not fields:  # no such job: the subscription saw it missing
                    await loop.run_in_executor(None, self._check_exists)
                return fields
            except asyncio.TimeoutError:
                await loop.run_in_executor(None, self._check_exists)
                if timeout is not None:
                    raise TimeoutError(f"job {self.id} ({self.task}) did not finish within {timeout}s") from None

    def _check_exists(self) -> None:
        """Raise JobNotFoundError when the id names no job (never dispatched, or already trimmed by retention)."""
        if self.state() is None:
            raise JobNotFoundError(self.id, self.task, replaced_by=self._replaced_by())

    def _replaced_by(self) -> str | None:
        """The job that replaced this one under ``debounce`` (its ``debounced`` event, found in the task's event
        stream), when that is why it is gone: a wait that began just after the replacement still names it."""
        stream = self.app.adapter.keys.events(self.task)
        for _stream, entries in self.app.adapter.events_since({stream: "0-0"}, REPLACED_LOOKBACK):
            for _entry_id, fields in reversed(entries):
                if fields.get("event") == "debounced" and fields.get("jobId") == self.id:
                    return fields.get("replacedBy")
        return None

    def _outcome(self, fields: dict[str, Any]) -> T:
        state = fields.get("state")
        if state == "completed":
            raw = fields.get("result")
            value = None if raw is None else self.app.serializer.loads(raw)
            task = self.app.tasks.get(self.task)
            return value if task is None else task.io.typed_result(value)  # type: ignore[return-value]
        if state == "failed":
            raise JobFailedError(self.id, _text(fields.get("error")) or "unknown error", self.task,
                                 error_type_of(fields.get("errorDetail")))
        if state == "cancelled":
            raise CancelledError(self.id, _text(fields.get("cancelReason")) or None)
        if state == "debounced":
            raise JobNotFoundError(self.id, self.task, replaced_by=_text(fields.get("replacedBy")))
        raise ExpiredError(f"job {self.id} ({self.task}) expired before a worker started it")

    # -- reading ----------------------------------------------------------------------------------
    def state(self) -> str | None:
        """waiting, delayed, active, retrying, completed, failed, cancelled, expired; None if unknown."""
        self._wait_sent()
        return _text(self.app.adapter.get_fields(self.task, self.id, ["state"])["state"])

    def fields(self, names: list[str] | tuple[str, ...] | None = None) -> dict[str, Any] | None:
        """The job hash as stored (or only ``names``); None when no such job exists.

        Front-ends (the Celery compat layer) read the metadata they stored with ``dispatch(meta=...)`` here.
        """
        self._wait_sent()
        if names is None:
            return self.app.adapter.get_job(self.task, self.id)
        values = self.app.adapter.get_fields(self.task, self.id, list(names))
        return values if any(v is not None for v in values.values()) else None

    def progress(self) -> Any:
        self._wait_sent()
        raw = self.app.adapter.get_fields(self.task, self.id, ["progress"])["progress"]
        return None if raw is None else self.app.serializer.loads(raw)

    def logs(self) -> list[dict[str, Any]]:
        """The job's log entries, oldest first; ``meta`` is None for an entry stored without one."""
        self._wait_sent()
        return [{"meta": None, **json.loads(line)} for line in self.app.adapter.get_logs(self.task, self.id)]

    def cancel(self, reason: str | None = None) -> str:
        """Cancel the job: waiting/delayed at once; active through its worker. Returns what happened."""
        self._wait_sent()
        return self.app.adapter.cancel(self.task, self.id, reason or "")

    async def astate(self) -> str | None:
        return await asyncio.get_running_loop().run_in_executor(None, self.state)

    async def aprogress(self) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self.progress)

    async def alogs(self) -> list[dict[str, Any]]:
        return await asyncio.get_running_loop().run_in_executor(None, self.logs)

    async def acancel(self, reason: str | None = None) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self.cancel, reason)
