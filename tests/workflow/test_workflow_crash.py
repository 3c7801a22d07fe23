"""A worker PROCESS killed with SIGKILL in the middle of a workflow: a second worker process
recovers the stalled node (stall interval 0.5 s) and the workflow completes, running each finished
node once. Real redis-server, real ``python -m taskora worker`` subprocesses.

The module doubles as the workers' app: ``-A <this module>:crash_app``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis

from taskora import Taskora
from taskora.workflow import chain
from tests.paths import ROOT

STALL = {"interval": 0.5, "max_count": 1}
URL_ENV = "TASKORA_WF_CRASH_URL"


def crash_app() -> Taskora:
    """Three tasks; ``wf-slow`` hangs on its first run ever (so the test can kill that worker)."""
    url = os.environ[URL_ENV]
    app = Taskora(url)
    runs = redis.Redis.from_url(url)

    def first(x, ctx):
        runs.rpush("runs:first", os.getpid())
        return x + 1

    def slow(x, ctx):
        if runs.rpush("runs:slow", os.getpid()) == 1:
            threading.Event().wait(120)
        return x * 10

    def last(x, ctx):
        runs.rpush("runs:last", os.getpid())
        return x + 1

    for name, fn in (("wf-first", first), ("wf-slow", slow), ("wf-last", last)):
        app.task(name, fn, stall=STALL)
    return app


def start_worker(url: str, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A",
                                 f"{__name__}:crash_app", "-P", "threads", "-c", "2"], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, URL_ENV: url},
                                start_new_session=True)  # fmt: skip


def kill(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    proc.wait(20)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return value


def test_sigkilled_worker_mid_workflow_is_recovered_by_another_worker(redis_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(URL_ENV, redis_url)
    client = crash_app()
    runs = redis.Redis.from_url(redis_url)
    first, slow, last = (client.tasks[n] for n in ("wf-first", "wf-slow", "wf-last"))
    handle = chain(first.s(1), slow.s(), last.s()).dispatch()
    a = start_worker(redis_url, tmp_path / "a.log")
    b = None
    try:
        wait_for(lambda: runs.llen("runs:slow") == 1, 30, "worker A to start the slow node")
        kill(a, signal.SIGKILL)  # mid-workflow: node 0 done, node 1 active, node 2 pending
        assert handle.state() == "running"
        b = start_worker(redis_url, tmp_path / "b.log")
        assert handle.result(timeout=40) == 21
        assert handle.state() == "completed"
        slow_pids = [int(p) for p in runs.lrange("runs:slow", 0, -1)]
        assert len(slow_pids) == 2 and slow_pids[0] == a.pid and slow_pids[1] == b.pid
        assert runs.llen("runs:first") == 1 and [int(p) for p in runs.lrange("runs:last", 0, -1)] == [b.pid]
    finally:
        kill(a, signal.SIGKILL)
        if b is not None:
            kill(b, signal.SIGTERM)
        client.close(timeout=5)
