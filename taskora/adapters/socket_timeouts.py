"""A socket timeout the kernel enforces, so the hot path makes one system call per send and per read.

Python implements ``socket.settimeout(t)`` by making the socket non-blocking and calling ``poll`` before
every ``send``/``recv``: on the dispatch and claim path that is two extra system calls per round trip
(``strace`` of 1,000 dispatches: 2,000 ``poll``s beside 1,000 ``sendto`` and 1,000 ``recvfrom``). Setting
``SO_RCVTIMEO``/``SO_SNDTIMEO`` on a blocking socket keeps the same bound with neither. A read or write
that runs out of time then fails with ``EAGAIN`` (``BlockingIOError``) instead of ``TimeoutError``:
:func:`is_timeout` tells the caller both mean the same.
"""

from __future__ import annotations

import socket
import struct
import sys


def set_kernel_timeout(sock: socket.socket, seconds: float | None) -> None:
    """Make ``sock`` blocking with ``seconds`` as the kernel's send and receive timeout (None: no bound).

    A platform that refuses the options keeps Python's own (polling) timeout: slower, same behaviour.
    """
    if seconds and sys.platform == "win32":  # SO_RCVTIMEO takes milliseconds as a DWORD there, not a timeval
        sock.settimeout(seconds)
        return
    sock.settimeout(None)
    if not seconds:
        return
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    except (OSError, AttributeError):
        sock.settimeout(seconds)


def is_timeout(exc: OSError) -> bool:
    """A send or read that ran out of time: Python's ``TimeoutError``, or the kernel timeout's ``EAGAIN``."""
    return isinstance(exc, (TimeoutError, BlockingIOError))


def shut_down(sock: socket.socket | None) -> None:
    """End both directions of ``sock``: a read blocked on it in another thread returns at once (a silent
    peer never would). A socket already closed is left as it is."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
