"""Handlers on a prefork child's main thread, where a signal can interrupt a blocking call.

A prefork child that runs one job at a time (its budget is 1, budget.py: every child of a Celery app, and a
native app's child under ``--max-running 1``) runs each handler on its main thread, while claiming, heartbeats,
reports to the supervisor and the shutdown logic (``pools.serve``) go on in threads. Why: CPython runs signal
handlers on the main thread only, and a signal aimed at that thread makes a blocking system call there
(``time.sleep``, ``socket.recv``, ``select``) return at once so that the handler runs. An exception raised in
another thread (``PyThreadState_SetAsyncExc``, limits.py) waits instead for the blocking call to return.

So the soft time limit here is Celery's: a timer thread sends ``SIGUSR1`` to the main thread
(``signal.pthread_kill``: a process-wide ``SIGALRM`` may land on any thread and leave the blocking call
alone), whose handler raises ``SoftTimeLimitExceeded`` in the handler's frame, once. A revoke with
``terminate=True`` goes the same way: ``SIGUSR1`` raises ``SoftTimeLimitExceeded`` in the handler as it does
in a Celery pool process, any other signal makes the process die by it (the supervisor replaces it). The
hard limit is unchanged: the supervisor kills the child (supervisor.py).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import SoftTimeLimitExceeded
from .alarms import set_alarm
from .process_death import die_by

if TYPE_CHECKING:
    pass

log = logging.getLogger("taskora.worker")

#: The signal that interrupts the main thread's handler: Celery's soft-limit signal.
INTERRUPT_SIGNAL = signal.SIGUSR1
#: A task whose last run in this process took less than this (seconds) runs its next job on its slot thread,
#: unless a soft time limit covers that job. Handing a call to the main thread and back costs two thread
#: wake-ups (about 50 µs per call on a 2-core VM, ``bench/README.md`` "Profiles"): a third of a no-op Celery
#: job's cost, and a handler this short has no long blocking call for a signal to break.
SHORT_RUN_S = 0.005


class ChildExiting(BaseException):  # noqa: N818 - not an error of the handler's: its process is leaving
    """Raised in a handler still running on the main thread once its child has stopped (a cold shutdown)."""


class _Call:
    """One handler call handed from a slot thread to the main thread, and its result handed back."""

    __slots__ = ("fn", "value", "error", "done")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.value: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class MainThreadRunner:
    """Runs calls handed over by slot threads on the main thread, one at a time, interruptible by a signal.

    ``_pending`` is what the next ``INTERRUPT_SIGNAL`` raises in the running call (nothing when None: a late
    or stray signal is ignored); ``_die_with`` a signal the process must die by (a terminate).
    """

    def __init__(self, short_run_s: float = SHORT_RUN_S) -> None:
        self._main = threading.get_ident()
        self._short_run_s = short_run_s
        self._short_tasks: set[str] = set()  # tasks whose last run took under short_run_s
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._in_call = False
        self._pending: BaseException | None = None
        self._die_with: int | None = None
        self._closed = False

    def install(self) -> None:
        """Take over ``INTERRUPT_SIGNAL`` (main thread only, before the first call)."""
        signal.signal(INTERRUPT_SIGNAL, self._on_signal)

    def on_main_thread(self) -> bool:
        return threading.get_ident() == self._main

    # -- slot threads -------------------------------------------------------------------------------
    def run_handler(self, task: str, soft_limited: bool, fn: Callable[[], Any]) -> Any:
        """``fn()``, one handler call of ``task``: on the main thread, or in the calling slot thread when the
        task's last run here was short (``SHORT_RUN_S``) and no soft limit covers this job.

        Off the main thread a ``revoke(terminate=True, signal="SIGUSR1")`` still raises
        ``SoftTimeLimitExceeded`` in the handler, but between bytecodes (``terminate`` declines it): a handler
        that ran under 5 ms last time is not expected to sit in a long blocking call.
        """
        def timed() -> Any:  # the handler's own time, not the hand-off's
            return self._timed(task, fn)

        return self.call(timed) if soft_limited or task not in self._short_tasks else timed()

    def _timed(self, task: str, fn: Callable[[], Any]) -> Any:
        began = time.monotonic()
        value = fn()
        if time.monotonic() - began < self._short_run_s:
            self._short_tasks.add(task)
        else:
            self._short_tasks.discard(task)
        return value

    def call(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` on the main thread (directly when called there); its value, or its exception raised here."""
        if self.on_main_thread():
            return fn()
        if self._closed:  # the main thread has left ``run``: nobody would take the call
            raise ChildExiting("the worker process stopped before this handler could start")
        call = _Call(fn)
        self._calls.put(call)
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.value

    def interrupt(self, error: BaseException) -> bool:
        """Raise ``error`` in the call running on the main thread; False when none runs (nothing is raised)."""
        with self._lock:
            if not self._in_call:
                return False
            self._pending = error
            signal.pthread_kill(self._main, INTERRUPT_SIGNAL)
            return True

    def cancel_interrupt(self, error: BaseException) -> None:
        """Make sure ``error``, if still pending, is never raised (its call is ending)."""
        with self._lock:
            if self._pending is error:
                self._pending = None

    def terminate(self, signum: int) -> bool:
        """A revoke with ``terminate=True`` of the running job: ``SIGUSR1`` raises SoftTimeLimitExceeded in its
        handler (Celery's pool process does the same), any other signal ends this process by it. False: a
        ``SIGUSR1`` for a handler that runs on its slot thread, left to the caller (terminate.Terminator)."""
        if signum == INTERRUPT_SIGNAL:
            return self.interrupt(SoftTimeLimitExceeded("terminated with SIGUSR1"))
        self._die_with = signum
        signal.pthread_kill(self._main, INTERRUPT_SIGNAL)
        return True

    def close(self) -> None:
        """The child stopped: end ``run`` (interrupting a call that still runs: a cold stop gave up on it)."""
        self._closed = True
        self._calls.put(None)
        self.interrupt(ChildExiting("the worker process stopped while this handler ran"))

    # -- the main thread ----------------------------------------------------------------------------
    def run(self) -> None:
        """Run handed-over calls until ``close``."""
        while True:
            try:
                call = self._calls.get(timeout=1.0)
            except queue.Empty:
                continue
            if call is None:
                return
            self._run_one(call)

    def _run_one(self, call: _Call) -> None:
        try:
            self._in_call = True
            call.value = call.fn()
        except BaseException as exc:  # handed to the slot thread
            call.error = exc
        self._leave_call()
        call.done.set()

    def _leave_call(self) -> None:
        """No interrupt may land once the call has ended; one already on its way lands here and is dropped."""
        while True:
            try:
                with self._lock:
                    self._in_call = False
                    self._pending = None
                return
            except BaseException:  # noqa: S112 - the late interrupt itself: the call it was meant for has ended
                continue

    def _on_signal(self, signum: int, frame: Any) -> None:
        """Signal handler (main thread): die by a terminate's signal, or raise what is pending."""
        if self._die_with is not None:
            die_by(self._die_with)
        error, self._pending = self._pending, None
        if error is not None and self._in_call:
            raise error


class SignalSoftLimit:
    """The soft time limit of one handler call on the main thread: ``SoftTimeLimitExceeded`` raised once in
    it after ``seconds``, even inside a blocking call; ``disarm`` makes sure it cannot land later."""

    def __init__(self, runner: MainThreadRunner, seconds: float) -> None:
        self._runner = runner
        self._error = SoftTimeLimitExceeded(f"soft time limit ({seconds:g}s) exceeded")
        self._lock = threading.Lock()
        self._armed = True
        self._alarm = set_alarm(seconds, self._fire)

    def _fire(self) -> None:
        with self._lock:
            if self._armed:
                self._armed = False
                self._runner.interrupt(self._error)

    def disarm(self) -> None:
        self._armed = False  # first: an alarm firing from here on raises nothing
        self._alarm.cancel()
        self._runner.cancel_interrupt(self._error)


#: The runner of this process, once a prefork child installed one (prefork_child.serve_with_handlers_on_main_thread).
_runner: MainThreadRunner | None = None


def runner() -> MainThreadRunner | None:
    """The runner handlers of this process go through, or None (they run in their slot threads)."""
    return _runner


def soft_limit_here(seconds: float) -> SignalSoftLimit | None:
    """A signal-based soft limit when the calling thread is the main thread of a process whose handlers run
    there; None otherwise (limits.py then raises in the handler's thread instead)."""
    current = _runner
    if current is None or not current.on_main_thread():
        return None
    return SignalSoftLimit(current, seconds)


def applies(pool: Any) -> bool:
    """Whether a prefork child's handlers run on its main thread: its budget is one job at a time."""
    return bool(pool.running_budget() == 1)


def install() -> MainThreadRunner:
    """Route this process's handler calls to its main thread (call there, before the pool starts)."""
    global _runner
    _runner = MainThreadRunner()
    _runner.install()
    return _runner
