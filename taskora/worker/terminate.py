"""Terminate: stop a running handler when its job is cancelled with a signal (Celery's
``revoke(terminate=True, signal=...)``).

The engine has already ended the job as cancelled (``lua/cancel.lua``), so nothing the attempt does
afterwards counts; what is left is to stop the work itself:

* in a prefork child the process gets the signal and dies by it, as a Celery pool process does, and
  the supervisor replaces it (the main thread delivers it: ``pools.serve``);
* with threads a thread cannot be killed, so :class:`Terminated` is raised inside the handler's thread
  (``PyThreadState_SetAsyncExc``, as soft time limits are). Python delivers it between bytecodes: a
  handler blocked in one long C call sees it when that call returns. An ``async def`` handler's
  coroutine is cancelled (``CancelledError`` at its current ``await``).

Listeners added with :func:`on_terminated` are told first, in the worker process that ran the job
(the Celery front sends ``task_revoked`` with ``terminated=True`` from there).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import SoftTimeLimitExceeded
from .interrupt import raise_in_thread

if TYPE_CHECKING:
    from .runtime import JobRuntime

log = logging.getLogger("taskora.worker")

__all__ = ["Terminated", "Terminator", "on_terminated", "signal_number"]

#: Job-hash field cancel.lua writes: the signal name of a terminate.
TERMINATE_FIELD = "terminateSignal"

_listeners: list[Callable[[JobRuntime, int], Any]] = []


class Terminated(Exception):  # noqa: N818 - the name users see in a traceback: the job was terminated
    """Raised inside a handler's thread when its job is revoked with ``terminate=True``."""


def on_terminated(listener: Callable[[JobRuntime, int], Any]) -> Callable[[], None]:
    """Call ``listener(runtime, signum)`` whenever this process terminates a job; returns an unsubscribe."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def signal_number(name: Any) -> int:
    """``"SIGKILL"``, ``"KILL"``, ``9`` or ``signal.SIGKILL`` -> 9.

    Raises:
        ValueError: not a signal of this platform (naming it).
    """
    if isinstance(name, int) and not isinstance(name, bool):
        return int(signal.Signals(name))
    text = str(name).strip().upper()
    if text.isdigit():
        return int(signal.Signals(int(text)))
    try:
        return int(signal.Signals[text if text.startswith("SIG") else f"SIG{text}"])
    except KeyError:
        raise ValueError(f"unknown signal {name!r}; expected a name such as 'SIGTERM' or 'SIGKILL', or a number") \
            from None


class Terminator:
    """Watches the handlers running in one worker process and stops one whose job is terminated.

    ``kill_process``: called with the signal number in a prefork child (None with threads); when it returns
    False it declined (main_thread.py: a ``SIGUSR1`` for a handler running on a slot thread), and
    ``SoftTimeLimitExceeded`` is raised in the handler's thread instead, as for threads.
    """

    def __init__(self, adapter: Any, kill_process: Callable[[int], bool | None] | None = None) -> None:
        self.adapter = adapter
        self.kill_process = kill_process
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # job id -> ident of the thread running its handler
        self._interrupts: dict[int, list[Callable[[], Any]]] = {}  # thread ident -> what else stops its handler
        #: Threads this terminator raised in since their handler started: only theirs can hold one still pending.
        self._raised: set[int] = set()
        #: Running jobs whose terminate the listeners were told of: once each, however the terminate was heard.
        self._told: set[str] = set()

    def running(self, runtime: JobRuntime) -> _Running:
        """Around one handler call in the current thread (``with terminator.running(runtime):``): a terminate
        may interrupt it, never what follows. A plain class, not a generator: it wraps every job."""
        return _Running(self, runtime)

    def _enter(self, runtime: JobRuntime, listener: Callable[[str], Any]) -> int:
        ident = threading.get_ident()
        with self._lock:
            self._running[runtime.id] = ident
        runtime.signal.on_abort(listener)
        return ident

    def _exit(self, runtime: JobRuntime, ident: int, listener: Callable[[str], Any]) -> None:
        runtime.signal.forget(listener)  # the listener names the runtime: left on its signal, the two form a cycle
        job_id = runtime.id
        with self._lock:
            self._running.pop(job_id, None)
            self._told.discard(job_id)
            self._interrupts.pop(ident, None)
            if ident in self._raised:  # one raised too late stays undelivered
                self._raised.discard(ident)
                raise_in_thread(ident, None)

    def on_terminate_here(self, interrupt: Callable[[], Any]) -> None:
        """Also call ``interrupt`` should the handler running in this thread be terminated (e.g. cancel the
        coroutine of an ``async def`` handler, which the waiting thread cannot reach)."""
        ident = threading.get_ident()
        with self._lock:
            if ident in self._running.values():  # not in a thread of its own (hard time limit): nothing to track
                self._interrupts.setdefault(ident, []).append(interrupt)

    def _on_abort(self, runtime: JobRuntime, reason: str) -> None:
        # the cancel message says "cancelled"; a heartbeat that runs first finds the job ended: "lost"
        if reason not in ("cancelled", "lost"):
            return
        signum = self._signal_of(runtime)
        if signum is None:
            return
        with self._lock:
            ident = self._running.get(runtime.id)
        if ident is None or not self._tell(runtime, signum):
            return
        if self.kill_process is None:
            self._raise_in_handler(runtime.id, ident, Terminated)
        elif self.kill_process(signum) is False:  # declined: a SIGUSR1 for a handler off the main thread
            self._raise_in_handler(runtime.id, ident, SoftTimeLimitExceeded)

    def stopped_before_start(self, runtime: JobRuntime) -> bool:
        """Whether a job about to start (its handler tracked by ``running``) was cancelled already: the cancel came
        between its claim and its start, when no abort listener was there to hear it. Its handler must not start,
        and a terminate is told to the listeners as for a running handler (Celery's ``task_revoked``)."""
        reason = runtime.signal.reason
        if reason not in ("cancelled", "lost"):  # "lost": a heartbeat found it ended (a terminate finishes it)
            return False
        signum = self._signal_of(runtime)
        if signum is not None:  # nothing to stop, but the terminate is still heard
            self._tell(runtime, signum)
        return reason == "cancelled" or signum is not None

    def _tell(self, runtime: JobRuntime, signum: int) -> bool:
        """Call the terminate listeners for ``runtime``, unless they were told of it already; whether they were now."""
        with self._lock:
            if runtime.id in self._told:
                return False
            self._told.add(runtime.id)
        log.warning("Task %s[%s] terminated (signal %s)", runtime.task_name, runtime.id, signal.Signals(signum).name)
        for listener in list(_listeners):
            try:
                listener(runtime, signum)
            except Exception:
                log.exception("a terminate listener raised for job %s", runtime.id)
        return True

    def _raise_in_handler(self, job_id: str, ident: int, error: type[BaseException]) -> None:
        with self._lock:
            if self._running.get(job_id) != ident:
                return
            interrupts = self._interrupts.pop(ident, [])
            self._raised.add(ident)
            raise_in_thread(ident, error)
        for interrupt in interrupts:
            interrupt()

    def _signal_of(self, runtime: JobRuntime) -> int | None:
        """The terminate signal recorded on the job, or None for a plain cancel."""
        name = self.adapter.get_fields(runtime.task_name, runtime.id, [TERMINATE_FIELD]).get(TERMINATE_FIELD)
        if isinstance(name, bytes):
            name = name.decode()
        if not name:
            return None
        try:
            return signal_number(name)
        except ValueError:
            log.warning("job %s: %s; terminating with SIGTERM", runtime.id, name)
            return int(signal.SIGTERM)


class _Running:
    """``Terminator.running``'s context: the handler's thread is tracked from enter to exit."""

    __slots__ = ("_ident", "_runtime", "_terminator")

    def __init__(self, terminator: Terminator, runtime: JobRuntime) -> None:
        self._terminator, self._runtime, self._ident = terminator, runtime, 0

    def __enter__(self) -> None:
        self._ident = self._terminator._enter(self._runtime, self.aborted)

    def __exit__(self, *exc_info: object) -> None:
        self._terminator._exit(self._runtime, self._ident, self.aborted)

    def aborted(self, reason: str) -> None:
        """The job's abort signal fired while its handler runs here."""
        self._terminator._on_abort(self._runtime, reason)
