"""A crash or kill at any point loses no job: real worker processes against a real redis-server."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest
import redis

from taskora import JobFailedError, Taskora
from taskora.worker.feeder import FEEDER_MIN_SLOTS
from tests.crash_worker import WorkerProcesses
from tests.redis_server import RedisServer
from tests.waiting import wait_until


@pytest.fixture
def spawn_worker(redis_url: str) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``spawn_worker(mode, url=redis_url, concurrency=1)``: a tests/crash_worker.py process running ``crashy``."""
    workers = WorkerProcesses(redis_url)
    yield workers.spawn
    workers.kill_all()


def producer(url: str) -> Taskora:
    app = Taskora(url)  # from the URL: app.close() closes its connections (a given adapter is the caller's to close)
    app.register_task("crashy", None, stall={"interval": 0.5, "max_count": 1})
    return app


def runs(url: str, job_id: str) -> list[str]:
    return [r.decode() for r in redis.Redis.from_url(url).lrange(f"runs:{job_id}", 0, -1)]


def test_a_job_of_a_killed_worker_is_recovered_and_completes_once(redis_url, spawn_worker) -> None:
    app = producer(redis_url)
    doomed = spawn_worker("hang")
    handle = app.dispatch("crashy", {"n": 1})
    wait_until(lambda: runs(redis_url, handle.id), 10, "the first worker to start the job")

    doomed.send_signal(signal.SIGKILL)
    doomed.wait(5)
    rescuer = spawn_worker("quick")

    result = handle.result(timeout=20)
    assert result == {"done_by": rescuer.pid, "data": {"n": 1}}
    assert [r.split(":")[0] for r in runs(redis_url, handle.id)] == [str(doomed.pid), str(rescuer.pid)]
    job = app.adapter.get_job("crashy", handle.id)
    assert job["state"] == "completed" and job["stalledCount"] == "1"
    assert app.adapter.counts("crashy")["completed"] == 1
    app.close()


def test_jobs_of_a_killed_fed_slot_group_are_recovered_and_complete_once(redis_url, spawn_worker) -> None:
    # Given a worker whose 16 slots are fed in batches (feeder.py), all of them stuck in handlers
    app = producer(redis_url)
    slots = FEEDER_MIN_SLOTS * 2
    doomed = spawn_worker("hang", concurrency=slots)
    handles = [app.dispatch("crashy", {"n": n}) for n in range(slots + 10)]
    wait_until(lambda: sum(1 for h in handles if runs(redis_url, h.id)) == slots, 10, "every slot to start a job")

    # When the process is killed and another worker comes
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(5)
    rescuer = spawn_worker("quick", concurrency=slots)

    # Then every job completes, each killed one ran exactly twice, the rest once
    for h in handles:
        assert h.result(timeout=30)["done_by"] == rescuer.pid
    started_by_doomed = [h for h in handles if runs(redis_url, h.id)[0].startswith(f"{doomed.pid}:")]
    assert len(started_by_doomed) == slots
    assert all(len(runs(redis_url, h.id)) == (2 if h in started_by_doomed else 1) for h in handles)
    assert app.adapter.counts("crashy") == {**app.adapter.counts("crashy"), "completed": len(handles), "active": 0}
    app.close()


def test_a_job_that_stalls_more_than_max_count_fails_with_stalled_error(redis_url, spawn_worker) -> None:
    app = producer(redis_url)
    handle = app.dispatch("crashy", None)
    for expected_runs in (1, 2):
        worker = spawn_worker("hang")
        wait_until(lambda n=expected_runs: len(runs(redis_url, handle.id)) == n, 15, f"run {expected_runs}")
        worker.send_signal(signal.SIGKILL)
        worker.wait(5)
    spawn_worker("hang")  # its stall sweep finds the job stalled a second time

    with pytest.raises(JobFailedError, match="StalledError"):
        handle.result(timeout=20)
    assert len(runs(redis_url, handle.id)) == 2
    app.close()


def test_warm_shutdown_finishes_the_running_job(redis_url, spawn_worker) -> None:
    app = producer(redis_url)
    worker = spawn_worker("quick")
    handles = app.get_task("crashy").dispatch_many(list(range(20)))
    wait_until(lambda: any(runs(redis_url, h.id) for h in handles), 10, "the worker to start")

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0

    states = [h.state() for h in handles]
    assert "active" not in states, states
    assert all(s in ("completed", "waiting") for s in states)
    app.close()


def test_a_worker_survives_a_redis_restart_while_idle(spawn_worker) -> None:
    server = RedisServer().start()
    try:
        app = producer(server.url)
        spawn_worker("quick", server.url)
        assert app.dispatch("crashy", 1).result(timeout=10)["data"] == 1

        server.restart()
        handle = app.dispatch("crashy", 2)

        assert handle.result(timeout=30)["data"] == 2
        app.close()
    finally:
        server.stop()


def test_the_worker_process_exits_zero_on_sigterm_when_idle(spawn_worker) -> None:
    worker = spawn_worker("quick")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(15) == 0
