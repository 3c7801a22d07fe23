"""``taskora worker`` subprocesses: every pool runs jobs; -Q routes; warm/cold shutdown; time limits."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from taskora import Taskora
from taskora.errors import JobFailedError

from .helpers import wait_until


@pytest.mark.parametrize("pool", ["threads", "solo", "prefork", "asyncio"])
def test_each_pool_processes_jobs(pool: str, client: Taskora, start_worker) -> None:
    # Given a worker with this pool
    worker = start_worker("-P", pool, "-c", "2")
    # When jobs are dispatched from the test
    handles = [client.dispatch("add", {"a": i, "b": 1}) for i in range(10)]
    # Then they all complete, and the log has one line per job
    assert [h.result(timeout=15) for h in handles] == [i + 1 for i in range(10)]
    if pool == "asyncio":
        assert client.dispatch("slow_async", {"seconds": 0.05}).result(timeout=15) == "async-done"
    wait_until(lambda: worker.log().count("] succeeded in ") >= 10, what="one log line per finished job")
    log = worker.log()
    assert f"pool:        {pool}" in log and f"Task add[{handles[0].id}] received" in log


def test_queues_option_runs_only_routed_tasks(client: Taskora, start_worker) -> None:
    start_worker("-P", "threads", "-c", "2", "-Q", "slow")
    slow = client.dispatch("slow", {"tag": "q", "seconds": 0})
    add = client.dispatch("add", {"a": 1, "b": 1})
    assert slow.result(timeout=15) == "done-q"
    assert add.state() == "waiting"


def test_warm_shutdown_finishes_the_running_job(client: Taskora, start_worker, tmp_path: Path) -> None:
    pidfile = tmp_path / "worker.pid"
    worker = start_worker("-P", "threads", "-c", "1", "--pidfile", str(pidfile))
    assert int(pidfile.read_text()) == worker.proc.pid
    handle = client.dispatch("slow", {"tag": "warm", "seconds": 1.0})
    wait_until(lambda: (tmp_path / "started-warm").exists(), what="the job to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit() == 0
    assert handle.state() == "completed" and handle.result(timeout=1) == "done-warm"
    assert "warm shutdown requested" in worker.log()
    assert not pidfile.exists()


def test_cold_shutdown_returns_the_job_and_a_new_worker_finishes_it(client: Taskora, start_worker,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    worker = start_worker("-P", "threads", "-c", "1")
    handle = client.dispatch("slow", {"tag": "cold", "seconds": 30})
    wait_until(lambda: (tmp_path / "started-cold").exists(), what="the job to start")
    worker.signal(signal.SIGTERM)
    wait_until(lambda: "warm shutdown requested" in worker.log(), what="the warm shutdown to begin")
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit() == 0
    assert handle.state() == "waiting"  # nothing lost: back in the queue, attempt not counted


def test_restarted_worker_resumes_mid_stream(client: Taskora, start_worker) -> None:
    handles = [client.dispatch("slow", {"tag": f"s{i}", "seconds": 0.05}) for i in range(30)]
    first = start_worker("-P", "threads", "-c", "2")
    wait_until(lambda: sum(h.state() == "completed" for h in handles) >= 5, what="some jobs to finish")
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0
    assert any(h.state() == "waiting" for h in handles)
    start_worker("-P", "prefork", "-c", "2")
    assert [h.result(timeout=20) for h in handles] == [f"done-s{i}" for i in range(30)]


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_soft_time_limit_raises_inside_the_handler(pool: str, client: Taskora, start_worker) -> None:
    start_worker("-P", pool, "-c", "1", "-Q", "slow")
    assert client.dispatch("careful", None).result(timeout=15) == "cleaned-up"


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_hard_time_limit_fails_the_job_and_the_worker_goes_on(pool: str, client: Taskora, start_worker) -> None:
    worker = start_worker("-P", pool, "-c", "1")
    with pytest.raises(JobFailedError, match="TimeLimitExceeded"):
        client.dispatch("stuck", None).result(timeout=20)
    assert client.dispatch("add", {"a": 2, "b": 2}).result(timeout=15) == 4
    if pool == "prefork":
        assert "hard time limit (1s) exceeded; killing child" in worker.log()


def test_cli_soft_time_limit_default_applies_to_tasks(client: Taskora, start_worker) -> None:
    start_worker("-P", "threads", "-c", "1", "--soft-time-limit", "0.3")
    with pytest.raises(JobFailedError, match="SoftTimeLimitExceeded"):
        client.dispatch("slow", {"tag": "soft", "seconds": 10}).result(timeout=15)
