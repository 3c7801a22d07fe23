"""Handler-side time stamps, shared by every benchmark app.

The benchmark needs to know when each job's handler ran (first start and last end for throughput,
start minus dispatch time for pickup latency). Asking Redis for that would put extra load on the
very server being measured, so each handler appends one fixed-size binary record to a local file
instead: one ``write`` syscall (a couple of microseconds) per job, the same for every library, and
``O_APPEND`` keeps records from several processes (prefork children) whole. The file is named by
the ``BENCH_STAMP_FILE`` environment variable; without it the handler is a pure no-op.

This module must import nothing from celery or taskora: the worker of every library imports it.
"""

from __future__ import annotations

import os
import struct
import time

STAMP_ENV = "BENCH_STAMP_FILE"

# (i, dispatched_at, started_at, ended_at): job number, then epoch seconds (time.time(); one clock
# for every process on the machine). dispatched_at is 0.0 unless the payload carries "t".
_RECORD = struct.Struct("<qddd")
RECORD_SIZE = _RECORD.size

#: This process's descriptor of the stamp file, opened at its first stamp. A forked child opens its own (the hook
#: below), so no stamp asks the kernel for its pid (``getpid`` plus the environment lookup were about a microsecond
#: a job, the same for every library, but a larger share of the fastest one's).
_fd: int | None = None


def _forget_fd() -> None:
    global _fd
    _fd = None


os.register_at_fork(after_in_child=_forget_fd)


def stamp(data: object, started_at: float) -> None:
    """Append one record for the job whose payload is ``data``; call it as the handler returns."""
    global _fd
    if _fd is None:
        path = os.environ.get(STAMP_ENV)
        if not path:
            return
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    i, dispatched_at = -1, 0.0
    if isinstance(data, dict):
        i = int(data.get("i", -1))
        dispatched_at = float(data.get("t", 0.0))
    os.write(_fd, _RECORD.pack(i, dispatched_at, started_at, time.time()))


def count(path: str) -> int:
    """How many complete records the file holds (0 when it does not exist yet)."""
    try:
        return os.stat(path).st_size // RECORD_SIZE
    except FileNotFoundError:
        return 0


def read(path: str) -> list[tuple[int, float, float, float]]:
    """All complete records of the file, in write order."""
    with open(path, "rb") as f:
        raw = f.read()
    usable = len(raw) - len(raw) % RECORD_SIZE
    return [_RECORD.unpack_from(raw, off) for off in range(0, usable, RECORD_SIZE)]
