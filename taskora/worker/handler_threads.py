"""Handler threads: where a handler with a time limit runs, so that its slot can move on at the limit.

A slot cannot stop a Python thread, so a handler with a ``timeout`` (executor.py) or a hard time limit
(limits.py) runs in a thread of its own while its slot waits for it, up to the limit; past it, the attempt
fails and the slot moves on while the handler runs on (abandoned.py, interrupt.py). Starting a thread for
every job cost more than a short job itself: a one-slot worker on no-op jobs ran 4,000 jobs/s with
``timeout=30`` against 15,000 without. So a thread whose handler ended in time waits for the next handler
instead, for up to ``IDLE_S``.

Invariants:

* A thread whose handler overran is never given another handler. Interrupts aimed at it (interrupt.py) may
  still land after its handler ends; they must never land in another job's handler. It ends with its handler.
* Each handler runs in a fresh ``contextvars.Context``, as it would in a new thread: what one handler sets in a
  context variable, the next one on the same thread does not see.
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from .interrupt import HandlerInterrupted

__all__ = ["HandlerRun", "start"]

#: How long a handler thread with nothing to run waits for another handler before it ends.
IDLE_S = 60.0

_lock = threading.Lock()
#: Handler threads waiting for a handler, the most recently used last (taken first: its stack is warm).
_idle: list[_HandlerThread] = []


class HandlerRun:
    """One handler call in a handler thread: the slot's ``wait(limit)`` says whether it ended in time, then
    ``outcome()`` returns or raises what it did. Past the limit, ``abandon()``; then ``done`` is set once it ends."""

    __slots__ = ("_abandoned", "_call", "_ended", "_error", "_finished", "_result", "done", "thread")

    def __init__(self, call: Callable[[], Any], thread: threading.Thread) -> None:
        self._call = call
        self.thread = thread
        self._ended = threading.Lock()  # held until the handler ends: the slot's wait is one C call, no Condition
        self._ended.acquire()
        self._result: Any = None
        self._error: BaseException | None = None
        self._finished = False  # set under _lock, with the decision whether its thread is used again
        self._abandoned = False
        #: Set once an abandoned handler ended (abandoned.py and interrupt.py wait on it); made by ``abandon()``.
        self.done: threading.Event | None = None

    def wait(self, limit: float | None) -> bool:
        """The slot waits up to ``limit`` seconds (None: for good) for the handler to end, once; True when it has."""
        return self._ended.acquire(timeout=-1 if limit is None else limit)

    def abandon(self) -> threading.Event | None:
        """The slot stops waiting (the limit passed): the event set once the handler ends, while it still runs,
        and its thread will end with it; None when it ended meanwhile, and ``outcome()`` holds what it did."""
        with _lock:
            if self._finished:
                return None
            self._abandoned = True
            self.done = threading.Event()
            return self.done

    def within(self, limit: float | None) -> threading.Event | None:
        """``wait(limit)``, then ``abandon()`` if the handler is still running: None when it ended in time (or just
        as time ran out; ``outcome()`` holds what it did), else the event set once it ends."""
        return None if self.wait(limit) else self.abandon()

    def outcome(self) -> Any:
        """What the handler returned, or its exception raised here (call once ``wait`` said it ended)."""
        if self._error is not None:
            raise self._error
        return self._result

    def _run(self) -> None:
        try:
            self._result = contextvars.Context().run(self._call)
        except BaseException as exc:  # handed to the slot by outcome()
            self._error = exc


class _HandlerThread:
    """A daemon thread that runs handlers one after another, while each ends within its limit."""

    def __init__(self) -> None:
        self._runs: queue.SimpleQueue[HandlerRun] = queue.SimpleQueue()
        self._current: HandlerRun | None = None
        self.thread = threading.Thread(target=self._serve, name="taskora-handler", daemon=True)
        self.thread.start()

    def give(self, run: HandlerRun) -> None:
        self._runs.put(run)

    def _serve(self) -> None:
        try:
            self._serve_runs()
        except HandlerInterrupted:
            # Aimed at an overrun handler, it landed after the handler ended, in the bookkeeping: the abandoned
            # handler's waiters must still hear that it ended (the interrupter sends no other before a second).
            current = self._current
            if current is not None and current.done is not None:
                current.done.set()

    def _serve_runs(self) -> None:
        reuse = True
        while reuse:
            run = self._current = self._next_run()
            if run is None:
                return
            try:
                run._run()
                reuse = self._finish(run)
            finally:
                run._ended.release()
                if run.done is not None:  # abandoned: it ends here, and so does this thread
                    run.done.set()
            self._current = None
            del run  # an idle thread keeps nothing of the job it ran (its data, its result) alive

    def _next_run(self) -> HandlerRun | None:
        """The next handler to run, or None once this thread waited ``IDLE_S`` with none and left the idle list."""
        while True:
            try:
                return self._runs.get(timeout=IDLE_S)
            except queue.Empty:
                with _lock:
                    if self in _idle:  # not taken meanwhile: nobody will give it a handler now
                        _idle.remove(self)
                        return None

    def _finish(self, run: HandlerRun) -> bool:
        """Mark ``run`` finished; True when this thread waits for another handler (it ended within its limit)."""
        with _lock:
            run._finished = True
            if run._abandoned:
                return False
            _idle.append(self)
            return True


def start(call: Callable[[], Any], name: str) -> HandlerRun:
    """Run ``call`` in a handler thread (an idle one, or a new one), named ``name`` while it runs (thread dumps
    and logs say which job it is), and return at once; ``run.wait(limit)`` then waits for it."""
    with _lock:
        handler_thread = _idle.pop() if _idle else None
    if handler_thread is None:
        handler_thread = _HandlerThread()
    handler_thread.thread.name = name
    run = HandlerRun(call, handler_thread.thread)
    handler_thread.give(run)
    return run


def _forget_in_child() -> None:
    """A forked child (a prefork pool's) has none of its parent's threads: an idle one listed here would be given
    a handler nobody runs, and the lock may have been held by one of them at the fork."""
    global _lock
    _lock = threading.Lock()
    _idle.clear()


os.register_at_fork(after_in_child=_forget_in_child)
