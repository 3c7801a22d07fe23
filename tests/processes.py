"""Ending the worker processes a test started (each in a session of its own, so its pid is its process group)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from .waiting import wait_until


def kill_process_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGKILL every process of ``proc``'s group and wait until none of them runs any more.

    Waiting for ``proc`` alone is not enough: a prefork child still exiting keeps its Redis connection open
    for a moment, and a blocking claim it left queued there can take a job the next test enqueues on the same
    server (a job then held by a worker that is gone, until a reclaimer recovers it). A process that has closed
    its files and waits to be reaped (a zombie) has let go of its connections.
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group is gone already
    proc.wait(timeout)
    wait_until(lambda: not _running_in_group(proc.pid), timeout, f"process group {proc.pid} to end")


def _running_in_group(pgid: int) -> list[int]:
    """The pids of ``pgid``'s processes that have not exited (Linux ``/proc``: state and group per process)."""
    running = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            state, group = fields[0], int(fields[2])
        except (OSError, IndexError, ValueError):
            continue  # exited while we looked (its stat gone or cut short)
        if group == pgid and state not in ("Z", "X"):
            running.append(int(stat.parent.name))
    return running
