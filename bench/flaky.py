"""The failing-twice handler body of the ``retries`` scenario, shared by every library's app.

Each job of the scenario fails its first two runs and succeeds on its third, so the scenario
measures a library's retry path (fail, decide, re-queue, run again) rather than its no-op path.
The runs are counted in the worker process itself, not read from the library's own attempt
counter, so that the rule is the same for all eight libraries: the scenario runs one worker
process (``config.RETRY_POOL``), where every run of a job happens.

The failing runs stamp nothing (each job has exactly one stamp record, its successful run), but the
first run of the process notes its start in ``<stamp file>.first``: the scenario's window starts there.
Measured from the first *successful* start instead, the window of a library that puts a retry at the
back of its queue (taskora native, Celery: every job's first run, then every second run, then every
third) held only the last pass, whose runs all succeed, while a library that runs a job's three attempts
back to back (the Celery front: its jobs wait in a priority set ordered by first dispatch) was measured
over all its runs: the same work, counted as three times as fast for the first kind.

This module must import nothing from any task library: every library's worker imports it.
"""

from __future__ import annotations

import os
import struct
import time

FAILED_RUNS = 2  # runs that fail before the one that succeeds
FIRST_RUN_SUFFIX = ".first"  # next to the stamp file: one start time per worker process

_failures: dict[int, int] = {}
_first_run_noted_in: int | None = None  # pid of the process that noted its first run (prefork children each do)
_TIME = struct.Struct("<d")


def _note_first_run() -> None:
    """Append this process's first run start (epoch s) to ``<BENCH_STAMP_FILE>.first``, once per process."""
    global _first_run_noted_in
    path = os.environ.get("BENCH_STAMP_FILE")
    if _first_run_noted_in == os.getpid() or not path:
        return
    _first_run_noted_in = os.getpid()
    fd = os.open(path + FIRST_RUN_SUFFIX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, _TIME.pack(time.time()))
    finally:
        os.close(fd)


def first_run_start(stamp_path: str) -> float | None:
    """The earliest first-run start any worker process noted for ``stamp_path``; None when none did."""
    try:
        with open(stamp_path + FIRST_RUN_SUFFIX, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    starts = [_TIME.unpack_from(raw, off)[0] for off in range(0, len(raw) - len(raw) % _TIME.size, _TIME.size)]
    return min(starts) if starts else None


class PlannedFailure(Exception):
    """Raised on purpose by a job's first runs; every app retries exactly this error."""


def fail_first_runs(data: object) -> None:
    """Raise PlannedFailure on the first FAILED_RUNS runs of the job whose payload is ``data``."""
    _note_first_run()
    i = int(data.get("i", -1)) if isinstance(data, dict) else -1
    failed = _failures.get(i, 0)
    if failed < FAILED_RUNS:
        _failures[i] = failed + 1
        raise PlannedFailure(f"planned failure {failed + 1} of {FAILED_RUNS} for job {i}")
