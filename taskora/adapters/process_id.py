"""This process's id without a system call: the per-thread connections check it on every script call.

``os.getpid()`` is a system call each time (glibc stopped caching it), and the hot path asks on every call
whether the thread's connection was opened by this process or inherited through a fork. The id is read
once here and again in every forked child.
"""

from __future__ import annotations

import os

_pid = os.getpid()


def current_pid() -> int:
    """``os.getpid()``, as of the last fork."""
    return _pid


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
