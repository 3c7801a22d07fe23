"""A Celery project of many tasks under ``taskora worker -A``: its idle slots share one wait per process
(taskora/worker/shared_wait.py), so it holds a few Redis connections, not one per task and child. Before, 50
tasks at ``-P prefork -c 2`` held 124 connections, 112 of them blocked on a marker; a hosted Redis with a
connection limit of a hundred or so could not serve the worker at all."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from taskora.worker.feeder import FEEDER_MIN_SLOTS

from ..waiting import wait_until
from .celery_helpers import CeleryWorker, import_project

TASKS = 50

PROJECT = f'''
import os

from taskora.compat import Celery

app = Celery("manyproj", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])


def _make(name):
    @app.task(name=name)
    def echo(value):
        return value
    return echo


TASKS = [_make(f"many{{i}}") for i in range({TASKS})]
'''


def _handed_back(url: str) -> int:
    """Jobs the worker claimed and gave back to their queue unstarted: the ``requeued`` waiting events."""
    client = redis.Redis.from_url(url)
    return sum(fields.get(b"reason") == b"requeued" for i in range(TASKS)
               for _id, fields in client.xrange(f"taskora:{{many{i}}}:events"))


def _clients(url: str, name: str) -> tuple[int, int]:
    """(connections named ``name``, those of them blocked in a command): the worker's, whose broker URL names
    them (``?client_name=``), and not the test session's other clients."""
    ours = [c for c in redis.Redis.from_url(url).client_list() if c.get("name") == name]
    return len(ours), sum(c.get("cmd") in ("bzpopmin", "blpop", "bzmpop") for c in ours)


@contextmanager
def most_seen(count: Callable[[], int]) -> Iterator[list[int]]:
    """The highest ``count()`` seen, looked at every 20 ms while the block runs (in the list once it ends)."""
    most, done = [0], threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            most[0] = max(most[0], count())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield most
    finally:
        done.set()
        watcher.join(10)


@pytest.mark.parametrize("pool", [["-P", "prefork", "-c", "2"], ["-P", "threads", "-c", "4"],
                                  ["-P", "threads", "-c", "8"], ["-P", "threads", "-c", "32"]],
                         ids=["prefork", "threads", "threads-fed", "threads-32"])
def test_a_worker_of_fifty_tasks_holds_few_connections_and_runs_each_job_once(
        tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch, pool: list[str]) -> None:  # fmt: skip
    name = f"many-{uuid.uuid4().hex[:8]}"
    named = f"{redis_url}?client_name={name}"
    module = import_project(tmp_path, "manyproj", PROJECT, redis_url, monkeypatch)  # its connections not named
    worker = CeleryWorker(tmp_path, "manyproj", named, f"many{uuid.uuid4().hex[:6]}@test", *pool)
    try:
        worker.wait_ready(module.app)
        assert [task.delay(i).get(timeout=30) for i, task in enumerate(module.TASKS)] == list(range(TASKS))
        # every slot has run a job and waits again: were 124 connections (112 blocked), 230 (224), and 245 (112)
        # at -c 8, where each task's feeder kept two slots on the watch
        wait_until(lambda: _clients(redis_url, name)[1] <= 3, 10, "the slots to wait together")
        connections, _blocked = _clients(redis_url, name)
        assert connections <= 60, connections
        with most_seen(lambda: _clients(redis_url, name)[0]) as most:
            results = [module.TASKS[i % TASKS].delay(i) for i in range(40 * TASKS)]
            assert [result.get(timeout=30) for result in results] == list(range(40 * TASKS))
        assert most[0] <= 100, most[0]  # 5,046 at -c 100 without the shared wait (bench/README.md)
        if pool[1] == "threads" and int(pool[3]) >= FEEDER_MIN_SLOTS:
            # claimed past the prefetch bound (Celery's default: 4 x -c), a job goes back to its queue and is
            # claimed again: feeders claiming for every idle slot did that to 1,852 of these 2,050 jobs at -c 8
            assert _handed_back(redis_url) <= 4 * TASKS
    finally:
        worker.stop()
        module.app.close()
        sys.modules.pop("manyproj", None)


def test_a_bad_shared_wait_threshold_stops_a_prefork_worker_before_it_forks(
        tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Refused in a child only, it made each child die as it started, and the supervisor start another."""
    module = import_project(tmp_path, "manyproj", PROJECT, redis_url, monkeypatch)
    try:
        env = dict(os.environ, TASKORA_SHARED_WAIT_FROM="lots",
                   PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
        done = subprocess.run([sys.executable, "-m", "taskora", "worker", "-A", "manyproj", "-P", "prefork", "-c", "1"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "TASKORA_SHARED_WAIT_FROM must be a whole number of slots" in done.stderr + done.stdout
    finally:
        module.app.close()
        sys.modules.pop("manyproj", None)
