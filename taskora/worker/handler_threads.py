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
    """One handler call in a handler thread: ``wait(limit)`` says whether it ended in time (any thread may wait,
    as on an ``Event``), then ``outcome()`` returns or raises what it did."""

    __slots__ = ("_abandoned", "_call", "_ended", "_error", "_finished", "_result", "thread")

    def __init__(self, call: Callable[[], Any], thread: threading.Thread) -> None:
        self._call = call
        self.thread = thread
        self._ended = threading.Lock()  # held until the handler ends: a wait is one C call, no Condition per job
        self._ended.acquire()
        self._result: Any = None
        self._error: BaseException | None = None
        self._finished = False  # set under _lock, with the decision whether its thread is used again
        self._abandoned = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds (None: for good) for the handler to end; True when it has."""
        ended = self._ended.acquire(timeout=-1 if timeout is None else timeout)
        if ended:
            self._ended.release()  # for the next waiter (abandoned.py and interrupt.py wait on an overrun one)
        return ended

    def abandon(self) -> bool:
        """The slot stops waiting (the limit passed): True when the handler still runs, and its thread will end
        with it; False when it ended meanwhile, and ``outcome()`` holds what it did."""
        with _lock:
            if self._finished:
                return False
            self._abandoned = True
            return True

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
        self.thread = threading.Thread(target=self._serve, name="taskora-handler", daemon=True)
        self.thread.start()

    def give(self, run: HandlerRun) -> None:
        self._runs.put(run)

    def _serve(self) -> None:
        try:
            self._serve_runs()
        except HandlerInterrupted:  # aimed at an overrun handler, landed after it ended: nothing is left to stop
            pass

    def _serve_runs(self) -> None:
        reuse = True
        while reuse:
            run = self._next_run()
            if run is None:
                return
            try:
                run._run()
                reuse = self._finish(run)
            finally:  # also when an interrupt aimed at an overrun handler lands in the bookkeeping
                run._ended.release()
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
