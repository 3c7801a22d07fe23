"""The chaos harness's test project (``taskora worker -A chaos.proj``).

Every run is recorded in an append-only file per process (``<CHAOS_RUN_DIR>/runs-<pid>.log``), not in
Redis: the harness restarts Redis, and a record must survive that as well as the death of its own process.
A line is written with one ``os.write`` on an ``O_APPEND`` descriptor, so lines of threads never interleave
and a line is either whole or absent after a SIGKILL.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from taskora import Taskora

URL = os.environ.get("CHAOS_REDIS_URL", "redis://127.0.0.1:1/0")
RUN_DIR = os.environ.get("CHAOS_RUN_DIR", ".")

#: Ordinary jobs: a prefork child killed under them costs an attempt, so they get plenty, retried at once.
WORK_RETRY = {"attempts": 25, "delay": 0, "jitter": False}
#: Poison jobs kill their process every time: three attempts, then they must fail with WorkerLostError.
POISON_RETRY = {"attempts": 3, "delay": 0, "jitter": False}
#: Poison jobs go to a queue that only prefork workers serve: on threads a poison job kills the whole worker.
POISON_QUEUE = "poison"
#: Keep every finished job readable: the harness reads each job's final state at the end of the run.
KEEP_ALL = {"completed": {"max_items": 10**8}, "failed": {"max_items": 10**8}}

app = Taskora(URL, name="chaos", retention=KEEP_ALL)
_fds: dict[int, int] = {}


def _record(kind: str, job_id: str, attempt: int) -> None:
    """Append ``<kind> <job id> <attempt> <pid> <unix time>``; reopened after a fork (one file per pid)."""
    pid = os.getpid()
    fd = _fds.get(pid)
    if fd is None:
        fd = os.open(os.path.join(RUN_DIR, f"runs-{pid}.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _fds[pid] = fd
    os.write(fd, f"{kind} {job_id} {attempt} {pid} {time.time():.6f}\n".encode())


@app.task("chaos.work", retry=WORK_RETRY)  # type: ignore[untyped-decorator]
def work(data: dict[str, Any], ctx: Any) -> int:
    """Record the start, sleep a few ms to ~200 ms (so faults land mid-run), record the end."""
    _record("S", ctx.id, ctx.attempt)
    time.sleep(random.uniform(0.002, data.get("max_sleep", 0.2)))
    _record("E", ctx.id, ctx.attempt)
    return int(data["n"])


@app.task("chaos.poison", retry=POISON_RETRY, queue=POISON_QUEUE)  # type: ignore[untyped-decorator]
def poison(data: dict[str, Any], ctx: Any) -> None:
    """Record the start, then kill this process the way ``how`` says; never returns."""
    _record("S", ctx.id, ctx.attempt)
    if data["how"] == "abort":
        os.abort()
    os._exit(1)
