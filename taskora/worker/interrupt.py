"""Stop a handler that ran past its timeout, instead of leaving it running in a thread nobody waits on.

A Python thread cannot be killed, but CPython can raise an exception in it at its next bytecode
(``PyThreadState_SetAsyncExc``): a busy loop stops at once, a blocking C call (``time.sleep``, a socket
read) as soon as it returns. The exception is a ``BaseException`` so that a handler's ``except Exception``
does not swallow it; a handler that swallows even that is interrupted again, and reported while it lives.
A handler that watches ``ctx.signal`` (aborted at the timeout) gets ``GRACE_S`` to end on its own first.
"""

from __future__ import annotations

import ctypes
import logging
import threading

log = logging.getLogger("taskora.worker")

#: A handler that notices ``ctx.signal`` (aborted at its timeout) gets this long to end on its own.
GRACE_S = 1.0
#: How often, and how many times, a handler that outlived its timeout is interrupted again.
INTERRUPT_EVERY_S = 1.0
INTERRUPT_TRIES = 10


class HandlerInterrupted(BaseException):  # noqa: N818 - not an error of the handler's: the worker stops it
    """Raised inside a handler thread that ran past its timeout."""


def raise_in_thread(ident: int, exc_type: type[BaseException] | None) -> bool:
    """Schedule ``exc_type`` in thread ``ident`` (None clears a pending one); True when a thread was hit."""
    target = ctypes.py_object(exc_type) if exc_type is not None else None
    hit: int = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), target)
    if hit > 1:  # never expected for one ident: undo rather than hit threads at random
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)
        return False
    return hit == 1


def interrupt(thread: threading.Thread) -> bool:
    """Raise HandlerInterrupted in ``thread``; False when it has already ended."""
    ident = thread.ident
    if ident is None or not thread.is_alive():
        return False
    return raise_in_thread(ident, HandlerInterrupted)


def stop_overrunning(thread: threading.Thread, done: threading.Event, what: str) -> None:
    """After a grace period, interrupt ``thread`` until ``done``; log that it did not end (it then runs on)."""
    if done.wait(GRACE_S):
        return
    for attempt in range(INTERRUPT_TRIES):
        if not interrupt(thread) or done.wait(INTERRUPT_EVERY_S):
            if attempt:
                log.warning("%s: handler stopped after %d interrupts", what, attempt + 1)
            return
    log.error("%s: handler still running after %d interrupts past its timeout (it ignores them or is stuck in C "
              "code); its thread is left running", what, INTERRUPT_TRIES)
