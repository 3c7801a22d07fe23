"""Celery's ``-c N`` on real ``taskora worker -A proj`` processes: N jobs at a time for the whole worker.

Handlers record their runs (pid, wall-clock start and end) in files the test reads, so overlaps are seen
from outside the worker: with ``-c 1`` a job of one task waits for the running job of another; prefork
``-c 2`` runs at most two at once, one per child; the budget goes first come, first served.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

from taskora.worker.feeder import WATCHERS

from ..cli.budget_records import most_at_once, runs
from .celery_helpers import CeleryWorker, import_project, wait_until

PROJECT = '''
import json
import os
import time
import uuid

from taskora.compat import Celery

app = Celery("bproj", broker=os.environ["REDIS_URL"])
OUT = os.environ["BUDGET_DIR"]


def _write(name, text):
    aside = os.path.join(OUT, "." + name + "." + str(os.getpid()))
    with open(aside, "w") as f:
        f.write(text)
    os.replace(aside, os.path.join(OUT, name))


def _record(task, tag, seconds):
    start = time.time()
    _write("started-" + tag, str(os.getpid()))
    time.sleep(seconds)
    run = {"task": task, "tag": tag, "pid": os.getpid(), "start": start, "end": time.time()}
    _write("run-" + tag + "-" + uuid.uuid4().hex + ".json", json.dumps(run))
    return os.getpid()


@app.task
def task_a(tag, seconds=0.0):
    return _record("a", tag, seconds)


@app.task
def task_b(tag, seconds=0.0):
    return _record("b", tag, seconds)


@app.task
def task_c(tag, seconds=0.0):
    return _record("c", tag, seconds)
'''


@pytest.fixture
def bproj(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    out = tmp_path / "runs"
    out.mkdir()
    monkeypatch.setenv("BUDGET_DIR", str(out))
    module = import_project(tmp_path, "bproj", PROJECT, redis_url, monkeypatch)
    yield module
    module.app.close()
    sys.modules.pop("bproj", None)


@pytest.fixture
def start(tmp_path: Path, redis_url: str, bproj: ModuleType) -> Iterator[Any]:
    workers: list[CeleryWorker] = []

    def start_worker(*args: str) -> CeleryWorker:
        worker = CeleryWorker(tmp_path, "bproj", redis_url, f"b{uuid.uuid4().hex[:6]}@test", *args)
        workers.append(worker)
        return worker.wait_ready(bproj.app)

    yield start_worker
    for worker in workers:
        worker.stop()


def _runs(tmp_path: Path, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    out = tmp_path / "runs"
    return wait_until(lambda: (found := runs(out)) and len(found) >= count and found, timeout)


def test_c1_job_of_another_task_waits_for_the_running_one(tmp_path, bproj, start):
    start("-P", "threads", "-c", "1")
    bproj.task_a.delay("a-long", 1.0)
    wait_until(lambda: (tmp_path / "runs" / "started-a-long").exists(), 15)
    bproj.task_b.delay("b-after", 0.0)
    by_tag = {r["tag"]: r for r in _runs(tmp_path, 2)}
    assert by_tag["b-after"]["start"] >= by_tag["a-long"]["end"], by_tag


def test_c1_runs_tasks_in_claim_order_not_one_task_first(tmp_path, bproj, start):
    for i in range(4):
        bproj.task_a.delay(f"a{i}", 0.1)
    for i in range(4):
        bproj.task_b.delay(f"b{i}", 0.1)
    start("-P", "threads", "-c", "1")
    recorded = _runs(tmp_path, 8)
    assert most_at_once(recorded) == 1, recorded
    order = "".join(r["task"] for r in recorded)
    assert "aa" not in order and "bb" not in order, order  # each slot's next claim queues behind the other's


def test_prefork_c2_runs_two_at_once_one_per_child(tmp_path, bproj, start):
    start("-P", "prefork", "-c", "2")
    for i in range(3):
        for task in (bproj.task_a, bproj.task_b, bproj.task_c):
            task.delay(f"{task.name}-{i}", 0.3)
    recorded = _runs(tmp_path, 9)
    assert most_at_once(recorded) <= 2, recorded
    for pid in {r["pid"] for r in recorded}:
        assert most_at_once([r for r in recorded if r["pid"] == pid]) == 1, (pid, recorded)


def test_worker_concurrency_setting_is_the_default_of_c(tmp_path, bproj, start):
    (tmp_path / "bproj_conf.py").write_text("from bproj import app\napp.conf.worker_concurrency = 1\n")
    worker = start("-A", "bproj_conf:app", "-P", "threads")
    banner = worker.log()
    assert "concurrency: 1," in banner, banner
    bproj.task_a.delay("a-long", 0.6)
    bproj.task_b.delay("b", 0.6)
    recorded = _runs(tmp_path, 2)
    assert most_at_once(recorded) == 1, json.dumps(recorded)


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_a_job_waiting_for_the_budget_is_reserved_not_active_and_can_be_revoked(tmp_path, bproj, start, pool):
    worker = start("-P", pool, "-c", "1")
    long = bproj.task_a.delay("a-long", 2.0)
    wait_until(lambda: (tmp_path / "runs" / "started-a-long").exists(), 15)
    waiting = bproj.task_b.delay("b-waits", 0.0)
    revoked = bproj.task_c.delay("c-revoked", 0.0)
    inspect = bproj.app.control.inspect(destination=[worker.hostname], timeout=2)

    def reserved_ids() -> set[str]:
        return {r["id"] for r in (inspect.reserved() or {}).get(worker.hostname, [])}

    assert wait_until(lambda: reserved_ids() == {waiting.id, revoked.id}, 15)
    assert [r["id"] for r in (inspect.active() or {})[worker.hostname]] == [long.id]
    revoked.revoke()
    wait_until(lambda: revoked.state == "REVOKED", 5)
    assert runs(tmp_path / "runs") == []  # revoked while the job before it still runs
    assert waiting.get(timeout=20) and long.get(timeout=20)
    assert not (tmp_path / "runs" / "started-c-revoked").exists()


def test_a_reserved_job_of_a_killed_prefork_child_runs_once_uncharged(tmp_path, bproj, start):
    start("-P", "prefork", "-c", "1")
    bproj.task_a.delay("a-long", 30.0)
    started = tmp_path / "runs" / "started-a-long"
    wait_until(started.exists, 15)
    waiting = bproj.task_b.delay("b-waits", 0.0)
    native = bproj.app.__taskora_app__
    wait_until(lambda: native.adapter.get_fields(bproj.task_b.name, waiting.id, ["state"])["state"] == "active", 15)
    os.kill(int(started.read_text()), signal.SIGKILL)  # the child, while b waits in it for the budget
    assert waiting.get(timeout=30)
    b_runs = [r for r in runs(tmp_path / "runs") if r["tag"] == "b-waits"]
    assert len(b_runs) == 1 and b_runs[0]["pid"] != int(started.read_text()), b_runs
    assert native.adapter.get_fields(bproj.task_b.name, waiting.id, ["attempt"])["attempt"] == "1"


def test_fed_slots_claim_within_the_bound_and_a_full_one_starves_no_task(tmp_path, redis_url, bproj, start):
    """``-c 8`` threads: each task's slots have a feeder. With the budget and the prefetch bound full of one task's
    jobs, a burst of another's is claimed as room comes (a slot waits in the permit line, feeder.py), every job runs
    once, at most 8 at a time, and only what the two watching slots took went back to its queue unstarted (8 did,
    one per slot, when the feeder claimed for every idle slot)."""
    worker = start("-P", "threads", "-c", "8", "--prefetch-multiplier", "1")
    inspect = bproj.app.control.inspect(destination=[worker.hostname], timeout=2)
    for i in range(8):  # long enough for c's claims and the reserved count read while they run (0.5 s was not, once)
        bproj.task_b.delay(f"b{i}", 2.0)
    wait_until(lambda: len(list((tmp_path / "runs").glob("started-b*"))) == 8, 15)  # the budget full
    for i in range(8):
        bproj.task_c.delay(f"c{i}", 0.0)  # each slot of c claims one, reserved: the bound full
    wait_until(lambda: len((inspect.reserved() or {}).get(worker.hostname, [])) == 8, 15)
    with bproj.app.producer_or_acquire() as producer, producer.batch():  # a burst: sent in one write
        for i in range(20):
            bproj.task_a.apply_async((f"a{i}", 0.0), producer=producer)
    recorded = _runs(tmp_path, 36, timeout=60)
    expected = [f"a{i}" for i in range(20)] + [f"{t}{i}" for t in "bc" for i in range(8)]
    assert sorted(r["tag"] for r in recorded) == sorted(expected)
    assert most_at_once(recorded) <= 8, recorded
    events = redis.Redis.from_url(redis_url).xrange("taskora:{bproj.task_a}:events")
    handed_back = sum(fields.get(b"reason") == b"requeued" for _id, fields in events)
    assert handed_back <= WATCHERS, handed_back  # a watching slot claims as a job arrives, room or not
