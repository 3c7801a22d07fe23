"""Worker processes for the crash tests: ``python -m tests.crash_worker URL MODE [CONCURRENCY] [TASK]``.

TASK ``crashy`` (the default; tests/faults/test_crash_safety.py) is a plain task; ``batchy`` (tests/api/test_collect.py)
collects under key ``k`` (max_size 5, delay 1 s). CONCURRENCY is the task's slots in the process (1 by default).
MODE ``hang``: the handler records its run and then blocks (so the test can kill the process mid-job); MODE
``quick``: it records its run and returns. Runs are recorded in Redis (``runs:<job id>``), so the test sees every
execution across processes. Prints ``ready`` once it consumes; exits 0 on SIGTERM after a warm stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from taskora import Taskora

ROOT = Path(__file__).resolve().parent.parent
STALL = {"interval": 0.5, "max_count": 1}
#: ``record(job_id, entry)``: what a handler calls when it runs.
Record = Callable[[str, str], None]


def recorder(url: str, mode: str) -> Record:
    """Appends the run to ``runs:<job id>``; in mode ``hang`` then blocks (the test kills the process)."""
    counter = redis.Redis.from_url(url)

    def record(job_id: str, entry: str) -> None:
        counter.rpush(f"runs:{job_id}", entry)
        if mode == "hang":
            threading.Event().wait(120)

    return record


def declare_crashy(app: Taskora, record: Record | None = None, concurrency: int = 1) -> Any:
    """The ``crashy`` task (a run is recorded as ``pid:attempt``); ``record`` None: a producer's declaration."""
    def crashy(data: Any, ctx: Any) -> dict[str, Any]:
        assert record is not None
        record(ctx.id, f"{os.getpid()}:{ctx.attempt}")
        return {"done_by": os.getpid(), "data": data}

    return app.task("crashy", crashy, stall=STALL, concurrency=concurrency)


def declare_batchy(app: Taskora, record: Record | None = None, concurrency: int = 1) -> Any:
    """The ``batchy`` collect task (a run is recorded as ``pid|items``); ``record`` None: a producer's declaration."""
    def batchy(items: list[Any], ctx: Any) -> int:
        assert record is not None
        record(ctx.id, f"{os.getpid()}|{json.dumps(items)}")
        return len(items)

    return app.task("batchy", batchy, collect={"key": "k", "delay": "1s", "max_size": 5}, stall=STALL,
                    concurrency=concurrency)


TASKS = {"crashy": declare_crashy, "batchy": declare_batchy}


def batch_runs(url: str, job_id: str) -> list[tuple[int, Any]]:
    """Each run of batch ``job_id``: (worker pid, the items it got)."""
    recorded = [r.decode().split("|", 1) for r in redis.Redis.from_url(url).lrange(f"runs:{job_id}", 0, -1)]
    return [(int(pid), json.loads(items)) for pid, items in recorded]


class WorkerProcesses:
    """Worker processes of this module started by a test; ``kill_all`` ends every one still running."""

    def __init__(self, url: str, task: str = "crashy") -> None:
        self.url, self.task = url, task
        self.procs: list[subprocess.Popen[str]] = []

    def spawn(self, mode: str, url: str | None = None, concurrency: int = 1) -> subprocess.Popen[str]:
        """A worker in ``mode`` on ``url`` (this one's by default), returned once it consumes."""
        cmd = [sys.executable, "-m", "tests.crash_worker", url or self.url, mode, str(concurrency), self.task]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        return proc

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    app = Taskora(url)
    TASKS[sys.argv[4] if len(sys.argv) > 4 else "crashy"](app, recorder(url, mode), concurrency)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app.start()
    print("ready", flush=True)
    stop.wait()
    app.close(timeout=5)


if __name__ == "__main__":
    main()
