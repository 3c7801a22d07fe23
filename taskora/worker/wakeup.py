"""Wakeup: an event a signal handler may set.

``threading.Event.set`` takes the event's lock, and a Python signal handler runs in the main thread
between two bytecodes, possibly while that same thread is inside the event's ``clear()`` or ``wait()``
holding it: the handler then waits for a lock its own thread holds, forever (a prefork child deadlocked
so once). A self-pipe needs no lock: ``set`` writes a byte, ``wait`` selects on the other end.
"""

from __future__ import annotations

import os
import select


class Wakeup:
    """``set``/``wait``/``clear`` as ``threading.Event``, safe to ``set`` from a signal handler."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def set(self) -> None:
        try:
            os.write(self._write, b"!")
        except BlockingIOError:  # the pipe is full of wake-ups nobody read yet: one more adds nothing
            pass

    def wait(self, timeout: float | None = None) -> bool:
        """Whether it is set, waiting up to ``timeout`` seconds for it."""
        readable, _, _ = select.select([self._read], [], [], timeout)
        return bool(readable)

    def clear(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass
