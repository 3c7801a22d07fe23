"""The running budget (taskora/worker/budget.py) on real ``taskora worker`` processes of a native app.

``solo`` runs one job at a time whatever its task, ``--max-running N`` bounds any pool, and without it a
native app keeps ``concurrency`` slots per task. A job waiting for the budget is reserved: a SIGKILL of its
worker hands it back, and it runs once, uncharged.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskora import Taskora

from .budget_records import most_at_once, runs
from .helpers import WorkerProcess, run_cli, wait_until

PROJ = ("-A", "tests.cli.proj_budget")  # after helpers' own -A: the last one counts


@pytest.fixture
def budget_client(redis_url: str) -> Iterator[Taskora]:
    app = Taskora(redis_url)
    for name in ("first", "second"):
        app.register_task(name, None)
    yield app
    app.close()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def _start(workers: list[WorkerProcess], url: str, tmp_path: Path, client: Taskora, *args: str) -> WorkerProcess:
    worker = WorkerProcess(url, tmp_path, *args, *PROJ)
    workers.append(worker)
    return worker.wait_ready(client)


def _dispatch_both(client: Taskora, each: int, seconds: float) -> None:
    for i in range(each):
        for task in ("first", "second"):
            client.dispatch(task, {"tag": f"{task}{i}", "seconds": seconds})


def _wait_runs(tmp_path: Path, count: int, timeout: float = 30.0) -> list[dict[str, object]]:
    return wait_until(lambda: (found := runs(tmp_path)) and len(found) >= count and found, timeout,
                      f"{count} recorded runs")


def test_solo_runs_one_job_at_a_time_across_tasks(redis_url, tmp_path, budget_client, workers):
    _dispatch_both(budget_client, 3, 0.2)
    _start(workers, redis_url, tmp_path, budget_client, "-P", "solo")
    recorded = _wait_runs(tmp_path, 6)
    assert most_at_once(recorded) == 1, recorded


def test_max_running_bounds_a_native_threads_worker(redis_url, tmp_path, budget_client, workers):
    _dispatch_both(budget_client, 3, 0.2)
    _start(workers, redis_url, tmp_path, budget_client, "-P", "threads", "-c", "2", "--max-running", "1")
    recorded = _wait_runs(tmp_path, 6)
    assert most_at_once(recorded) == 1, recorded


def test_native_default_keeps_slots_per_task(redis_url, tmp_path, budget_client, workers):
    """Unchanged: ``-c 1`` on a native app is one slot per task, so a job of each task runs at once."""
    _dispatch_both(budget_client, 2, 0.5)
    _start(workers, redis_url, tmp_path, budget_client, "-P", "threads", "-c", "1")
    recorded = _wait_runs(tmp_path, 4)
    assert most_at_once(recorded) == 2, recorded


def test_a_reserved_job_survives_a_sigkill_and_runs_once(redis_url, tmp_path, budget_client, workers):
    busy = _start(workers, redis_url, tmp_path, budget_client, "-P", "threads", "-c", "1", "--max-running", "1")
    budget_client.dispatch("first", {"tag": "long", "seconds": 60})
    wait_until(lambda: (tmp_path / "started-long").exists(), 15, "the long job to start")
    reserved = budget_client.dispatch("second", {"tag": "reserved", "seconds": 0})
    wait_until(lambda: reserved.state() == "active", 15, "the second job to be claimed (reserved)")
    assert not (tmp_path / "started-reserved").exists()  # claimed, waiting for the budget
    listed = run_cli(redis_url, tmp_path, "inspect", "reserved", "-d", busy.hostname, *PROJ)
    assert listed.returncode == 0 and f"* second[{reserved.id}]" in listed.stdout, listed.stdout + listed.stderr
    os.killpg(busy.proc.pid, signal.SIGKILL)
    busy.proc.wait(10)
    _start(workers, redis_url, tmp_path, budget_client, "-P", "threads", "-c", "1")
    reserved.result(timeout=30)
    wait_until(lambda: [r for r in runs(tmp_path) if r["tag"] == "reserved"], 15, "the reserved job's run")
    reserved_runs = [r for r in runs(tmp_path) if r["tag"] == "reserved"]
    assert len(reserved_runs) == 1 and reserved_runs[0]["pid"] != busy.proc.pid, reserved_runs  # not before the kill
    assert int((reserved.fields(["attempt"]) or {})["attempt"]) == 1  # handed back, not charged an attempt
