"""Prefetch as Celery's: a worker reserves at most ``-c`` x ``worker_prefetch_multiplier`` claimed jobs beyond
those it runs (none with ``--disable-prefetch``), whatever the number of its tasks, so a backlog is shared with
another idle worker. Real ``taskora worker -P prefork -c 1`` subprocesses on one queue; ``inspect reserved``
read from this process while they work. Before, each task's slot could hold a reserved job of its own: a
child serving six tasks reserved up to five jobs.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections import Counter

import pytest
from taskora.compat import Celery

from taskora.worker.budget import reserve_bound

from .celery_helpers import CeleryWorker, import_project

TASKS = 6

PROJECT = f'''
import os
import time

from taskora.compat import Celery

app = Celery("pfproj", broker=os.environ["REDIS_URL"])


def _make(name):
    @app.task(name=name)
    def short():
        time.sleep(0.1)
        return os.environ["WORKER_TAG"]
    return short


TASKS = [_make(f"short{{i}}") for i in range({TASKS})]
'''


@pytest.fixture
def pfproj(tmp_path, redis_url, monkeypatch):
    module = import_project(tmp_path, "pfproj", PROJECT, redis_url, monkeypatch)
    workers: list[CeleryWorker] = []

    def start(tag: str, *args: str) -> CeleryWorker:
        monkeypatch.setenv("WORKER_TAG", tag)  # the worker's environment: its tasks return it
        worker = CeleryWorker(tmp_path, "pfproj", redis_url, f"pf{tag}{uuid.uuid4().hex[:6]}@test", *args)
        workers.append(worker)
        return worker

    yield module, start
    for worker in workers:
        worker.stop()
    module.app.close()
    sys.modules.pop("pfproj", None)


class ReservedWatch:
    """Polls ``inspect reserved`` in a thread until stopped; the most jobs each worker showed at once."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.most: Counter[str] = Counter()
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for hostname, jobs in (self.app.control.inspect(timeout=0.3).reserved() or {}).items():
                self.most[hostname] = max(self.most[hostname], len(jobs))
            self.polls += 1

    def stop(self) -> Counter[str]:
        self._stop.set()
        self._thread.join(5)
        return self.most


def _backlog(proj, jobs: int) -> list:
    return [proj.TASKS[i % TASKS].delay() for i in range(jobs)]


def test_two_workers_share_a_backlog_and_reserve_at_most_c_times_the_multiplier(pfproj):
    proj, start = pfproj
    workers = [start(tag, "-P", "prefork", "-c", "1", "--prefetch-multiplier", "1") for tag in ("a", "b")]
    for worker in workers:
        worker.wait_ready(proj.app)
    watch = ReservedWatch(proj.app)
    ran = Counter(result.get(timeout=60) for result in _backlog(proj, 36))
    most = watch.stop()
    assert watch.polls >= 3
    assert all(most[w.hostname] <= 1 for w in workers), most  # -c 1 x multiplier 1
    assert ran["a"] >= 9 and ran["b"] >= 9, ran  # each runs a share (about half)


def test_disable_prefetch_reserves_nothing_beyond_the_running_job(pfproj):
    proj, start = pfproj
    worker = start("a", "-P", "prefork", "-c", "1", "--disable-prefetch").wait_ready(proj.app)
    watch = ReservedWatch(proj.app)
    assert Counter(result.get(timeout=60) for result in _backlog(proj, 18)) == {"a": 18}  # FIFO, none starves
    most = watch.stop()
    assert watch.polls >= 3 and most[worker.hostname] == 0, most


def test_the_bound_reads_the_celery_settings_and_the_command_line():
    app = Celery("bounds", broker="memory://")
    native = app.__taskora_app__
    assert reserve_bound(native, "threads", 3) == 12  # -c 3 x the default multiplier 4
    assert reserve_bound(native, "prefork", 3) == 4  # each child's share
    app.conf.worker_prefetch_multiplier = 2
    assert reserve_bound(native, "threads", 3) == 6
    assert reserve_bound(native, "threads", 3, multiplier=1) == 3  # --prefetch-multiplier wins
    assert reserve_bound(native, "threads", 3, multiplier=0) is None  # 0: no bound, as Celery
    app.conf.worker_disable_prefetch = True
    assert reserve_bound(native, "threads", 3) == 0
    app.close()
