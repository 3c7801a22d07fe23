"""Background dispatch: ``dispatch()`` returns before the job is in Redis, as the TypeScript taskora's does.

A producer that dispatches one job per call otherwise waits one Redis round trip per job. With
``Taskora(..., background_dispatch=True)`` the call queues the job and returns its handle; one sender thread
per app writes what is queued in batches (``enqueue_many``: one round trip per batch of up to ``BATCH``).

The invariant: while the process lives, a queued job ends in Redis or its handle holds the error that kept it
out (``ensure_enqueued()`` raises it, and the log names it); none is dropped in silence. A connection error
is retried until Redis answers (a resent job creates nothing twice: an enqueue of an existing id writes
nothing). What the mode gives up is the waiting dispatch's promise that a returned call is durable: a process
killed (SIGKILL, power loss) before the sender wrote a job loses it. ``handle.ensure_enqueued()``,
``app.flush()``, ``app.close()`` and a normal interpreter exit (an ``atexit`` flush) are the points after
which everything dispatched before is in Redis. A process running a worker or the scheduler of the app always
waits: a job's completion, or a schedule's run, must not be recorded before the jobs it dispatched.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .adapters.base import EnqueueRequest
from .errors import TimeoutError
from .worker.reconnect import address_of, until_done

if TYPE_CHECKING:
    from .adapters.base import Adapter
    from .handles import ResultHandle

log = logging.getLogger("taskora.dispatch")

#: Jobs written per round trip (``enqueue_many`` splits them into script calls of its own size).
BATCH = 1000
#: Queued jobs a dispatch waits behind: a producer faster than Redis (or facing a Redis that is down) slows
#: to Redis's pace instead of growing without bound.
MAX_QUEUED = 10_000
#: How long the exit flush waits for Redis before it gives up on the jobs it could not write, naming them.
EXIT_WAIT_S = 30.0


class BackgroundSender:
    """Queues dispatched jobs and writes them from one thread, in order, in batches."""

    def __init__(self, adapter: Adapter, max_queued: int = MAX_QUEUED) -> None:
        self._adapter = adapter
        self._max_queued = max_queued
        self._changed = threading.Condition(threading.Lock())
        self._reset()
        here = weakref.ref(self)
        atexit.register(_flush_at_exit, here)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(here))

    def _reset(self) -> None:
        self._queue: deque[tuple[int, EnqueueRequest, ResultHandle[Any]]] = deque()
        self._queued_seq = 0  # the sequence number of the last job queued
        self._settled_seq = 0  # every job up to this one is written or failed
        self._inherited_seq = 0  # jobs up to this one were queued by the process this one forked from
        self._thread: threading.Thread | None = None
        self._idle = False  # the sender waits for work: a queued job must wake it
        self._stopping = False
        self._give_up = threading.Event()  # set at exit once EXIT_WAIT_S passed: stop retrying an absent Redis

    # -- the dispatching side ---------------------------------------------------------------------
    def submit(self, request: EnqueueRequest, handle_for: Callable[[int], ResultHandle[Any]]) -> ResultHandle[Any]:
        """Queue one job; ``handle_for(seq)`` makes its handle. Waits while ``max_queued`` jobs are unsent."""
        with self._changed:
            while len(self._queue) >= self._max_queued and not self._stopping:
                self._changed.wait()
            self._queued_seq += 1
            handle = handle_for(self._queued_seq)
            self._queue.append((self._queued_seq, request, handle))
            if self._thread is None:
                self._start()
            elif self._idle:
                self._changed.notify_all()
        return handle

    def wait_sent(self, seq: int, timeout: float | None = None) -> None:
        """Return once the job queued as ``seq`` is written or failed; TimeoutError after ``timeout`` seconds."""
        if seq <= self._inherited_seq:
            raise RuntimeError("this job was queued in the process this one was forked from, which sends it; "
                               "its handle here cannot tell whether it was written")
        with self._changed:
            if not self._changed.wait_for(lambda: self._settled_seq >= seq, timeout):
                raise TimeoutError(f"the background dispatch did not reach Redis within {timeout}s "
                                   f"({len(self._queue)} jobs still queued)")

    def flush(self, timeout: float | None = None) -> None:
        """Return once every job queued so far is written or failed."""
        with self._changed:
            last = self._queued_seq
        if last > self._inherited_seq:
            self.wait_sent(last, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the sender thread (a later dispatch starts a new one)."""
        self.flush(timeout)
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._changed:
            self._thread, self._stopping = None, False
            if self._queue:  # dispatched while the thread was stopping: a new one sends it
                self._start()

    # -- the sender thread ----------------------------------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="taskora-dispatch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._send(batch)
            finally:  # whatever happened, nobody waits for this batch forever
                with self._changed:
                    self._settled_seq = batch[-1][0]
                    self._changed.notify_all()

    def _take(self) -> list[tuple[int, EnqueueRequest, ResultHandle[Any]]] | None:
        """The next batch, oldest first; None once stopping with nothing queued."""
        with self._changed:
            while not self._queue:
                if self._stopping:
                    return None
                self._idle = True
                self._changed.wait()
                self._idle = False
            count = min(BATCH, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            self._changed.notify_all()  # room for a dispatch waiting on max_queued
            return batch

    def _send(self, batch: list[tuple[int, EnqueueRequest, ResultHandle[Any]]]) -> None:
        """Write the batch and settle each handle with its outcome: created or not, or the error Redis gave."""
        try:
            created = self._write([request for _seq, request, _handle in batch])
        except Exception as exc:  # on each handle (ensure_enqueued raises it), and in the log
            log.error("background dispatch: %d jobs were not enqueued (%s); the first: %s", len(batch), exc,
                      ", ".join(handle.id for _seq, _request, handle in batch[:5]))
            for _seq, _request, handle in batch:
                handle._sent(None, exc)
            return
        for (_seq, _request, handle), was_created in zip(batch, created, strict=True):
            handle._sent(was_created, None)

    def _write(self, requests: list[EnqueueRequest]) -> list[bool]:
        """``enqueue_many``, again after each connection error until Redis answers (worker/reconnect.py: one
        warning per outage, a growing pause). A resent job is harmless: an existing id is not written twice."""
        send = functools.partial(self._adapter.enqueue_many, requests)
        return until_done(address_of(self._adapter), send, self._give_up)


def _flush_at_exit(ref: weakref.ref[BackgroundSender]) -> None:
    sender = ref()
    if sender is None or sender._thread is None:
        return
    try:
        sender.flush(EXIT_WAIT_S)
    except TimeoutError:
        sender._give_up.set()  # the batch being retried fails, naming its jobs (BackgroundSender._send)
        log.error("background dispatch: %d more jobs were still unsent when the process exited (Redis did not "
                  "answer for %.0fs); they are lost", len(sender._queue), EXIT_WAIT_S)


def _reset_in_child(ref: weakref.ref[BackgroundSender]) -> None:
    """A forked child starts with no sender thread; the jobs queued before the fork are its parent's to send."""
    sender = ref()
    if sender is None:
        return
    inherited = sender._queued_seq
    sender._changed = threading.Condition(threading.Lock())
    sender._reset()
    sender._queued_seq = sender._settled_seq = sender._inherited_seq = inherited
