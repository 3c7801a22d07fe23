"""Celery's live worker operations against real ``taskora worker`` subprocesses: ``pool_grow``/``pool_shrink``,
``--autoscale``, ``add_consumer``/``cancel_consumer`` and ``time_limit``, sent by ``taskora control`` from another
process and observed from here (replies, ``stats``, which jobs run and when)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskora import Taskora
from taskora.errors import JobFailedError
from taskora.worker.control import broadcast

from .helpers import PROJ, run_cli, wait_until


def control(redis_url: str, tmp_path: Path, *args: str) -> list[str]:
    out = run_cli(redis_url, tmp_path, "-A", PROJ, "control", *args, "-t", "5")
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def size_of(client: Taskora, hostname: str) -> int:
    return int(broadcast(client, "stats", timeout=5, destination=[hostname])[hostname]["concurrency"])


def slow(client: Taskora, tag: str, seconds: float) -> object:
    return client.dispatch("slow", {"tag": tag, "seconds": seconds})


def started(tmp_path: Path, tag: str) -> bool:
    return (tmp_path / f"started-{tag}").exists()


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_pool_grow_adds_a_slot_that_serves_at_once(client: Taskora, redis_url: str, tmp_path: Path, start_worker,
                                                   pool: str) -> None:  # fmt: skip
    # Given a one-slot worker busy with a long job and a second job waiting
    worker = start_worker("-P", pool, "-c", "1", "-Q", "slow")
    first, second = slow(client, "a", 3.0), slow(client, "b", 0.1)
    wait_until(lambda: started(tmp_path, "a"), what="the first job to start")
    # When the pool is grown by one
    lines = control(redis_url, tmp_path, "pool_grow", "1", "-d", worker.hostname)
    # Then Celery's reply comes back, the size is 2, and the waiting job runs while the first still does
    assert lines == [f"->  {worker.hostname}: OK", "        pool will grow"]
    assert size_of(client, worker.hostname) == 2
    assert second.result(timeout=10) == "done-b"
    assert first.state() == "active"
    assert first.result(timeout=10) == "done-a"


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_pool_shrink_lets_the_running_job_finish_then_runs_one_at_a_time(client: Taskora, redis_url: str,
                                                                         tmp_path: Path, start_worker,
                                                                         pool: str) -> None:  # fmt: skip
    # Given a two-slot worker running two jobs
    worker = start_worker("-P", pool, "-c", "2", "-Q", "slow")
    jobs = [slow(client, "a", 1.0), slow(client, "b", 1.0)]
    wait_until(lambda: started(tmp_path, "a") and started(tmp_path, "b"), what="both jobs to start")
    # When the pool is shrunk by one (by more than it has: one slot always stays)
    lines = control(redis_url, tmp_path, "pool_shrink", "5", "-d", worker.hostname)
    # Then both running jobs finish (nothing lost), and from then on jobs run one at a time
    assert lines == [f"->  {worker.hostname}: OK", "        pool will shrink"]
    assert [j.result(timeout=10) for j in jobs] == ["done-a", "done-b"]
    wait_until(lambda: size_of(client, worker.hostname) == 1, what="the pool to be one slot")
    later = [slow(client, "c", 0.5), slow(client, "d", 0.5)]
    wait_until(lambda: started(tmp_path, "c") or started(tmp_path, "d"), what="one of two new jobs to start")
    wait_until(lambda: started(tmp_path, "c") and started(tmp_path, "d"), what="the other to start")
    first_done = [j for j in later if j.state() == "completed"]
    assert len(first_done) == 1, "the second job started before the first finished: more than one slot"
    assert [j.result(timeout=10) for j in later] == ["done-c", "done-d"]


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_autoscale_grows_with_the_backlog_and_shrinks_when_idle(client: Taskora, redis_url: str, tmp_path: Path,
                                                                start_worker, pool: str) -> None:  # fmt: skip
    # Given a worker autoscaled between 1 and 3 slots, shrinking after 1 s of idleness
    worker = start_worker("-P", pool, "--autoscale", "3,1", "--autoscale-keepalive", "1", "-Q", "slow")
    assert size_of(client, worker.hostname) == 1
    # When three long jobs arrive, they all run at once (the pool grew to MAX)
    jobs = [slow(client, tag, 2.0) for tag in "abc"]
    wait_until(lambda: all(started(tmp_path, t) for t in "abc"), timeout=10, what="all three jobs to run at once")
    assert size_of(client, worker.hostname) == 3
    # pool_grow is refused while the autoscaler sizes the pool (Celery's reply)
    assert control(redis_url, tmp_path, "pool_grow", "-d", worker.hostname)[1].strip() == (
        "pool_grow is not supported with autoscale. Adjust autoscale range instead.")
    # Then once they are done and the pool has idled past the keepalive, it is back to MIN
    assert [j.result(timeout=10) for j in jobs] == ["done-a", "done-b", "done-c"]
    wait_until(lambda: size_of(client, worker.hostname) == 1, timeout=10, what="the pool to shrink back to 1")
    stats = broadcast(client, "stats", timeout=5, destination=[worker.hostname])[worker.hostname]
    assert stats["autoscaler"] == {"max": 3, "min": 1, "qty": 1}


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_add_and_cancel_consumer_change_what_a_live_worker_runs(client: Taskora, redis_url: str, tmp_path: Path,
                                                                start_worker, pool: str) -> None:  # fmt: skip
    # Given a worker for the 'slow' queue only, and an 'add' job (queue 'default') waiting
    worker = start_worker("-P", pool, "-c", "1", "-Q", "slow")
    waiting = client.dispatch("add", {"a": 1, "b": 2})
    # When it is told to consume 'default' too
    lines = control(redis_url, tmp_path, "add_consumer", "default", "-d", worker.hostname)
    # Then it runs the waiting job, and reports the task as its own
    assert lines == [f"->  {worker.hostname}: OK", "        add consumer default"]
    assert "add" in client.adapter.served_by_live_workers()  # what the look for unknown tasks reads (worker/served.py)
    assert waiting.result(timeout=15) == 3
    assert "add" in broadcast(client, "registered", timeout=5, destination=[worker.hostname])[worker.hostname]
    # When it is told to stop consuming 'default'
    lines = control(redis_url, tmp_path, "cancel_consumer", "default", "-d", worker.hostname)
    assert lines == [f"->  {worker.hostname}: OK", "        no longer consuming from default"]
    assert "add" not in client.adapter.served_by_live_workers()
    # Then a new 'add' job stays waiting while the worker still serves 'slow'
    left = client.dispatch("add", {"a": 2, "b": 2})
    assert slow(client, "after", 0.2).result(timeout=15) == "done-after"
    assert left.state() == "waiting"
    assert "add" not in broadcast(client, "registered", timeout=5, destination=[worker.hostname])[worker.hostname]


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_time_limit_applies_to_jobs_started_from_now_on(client: Taskora, redis_url: str, tmp_path: Path,
                                                        start_worker, pool: str) -> None:  # fmt: skip
    worker = start_worker("-P", pool, "-c", "1", "-Q", "slow")
    # An unknown task gets Celery's error reply
    assert control(redis_url, tmp_path, "time_limit", "nope", "1", "-d", worker.hostname) == [
        f"->  {worker.hostname}: ERROR", "        unknown task"]
    # Given the 'slow' task limited live: soft 0.3 s (threads) or hard 0.5 s (prefork: the supervisor kills)
    limits = ("0.3",) if pool == "threads" else ("0", "0.5")
    lines = control(redis_url, tmp_path, "time_limit", "slow", *limits, "-d", worker.hostname)
    assert lines == [f"->  {worker.hostname}: OK", "        time limits set successfully"]
    # When a 3 s job runs, Then it fails by the new limit
    job = slow(client, "limited", 3.0)
    with pytest.raises(JobFailedError, match="SoftTimeLimitExceeded" if pool == "threads" else "hard time limit"):
        job.result(timeout=10)
    # And lifting the limits (0 0) lets the next one finish
    control(redis_url, tmp_path, "time_limit", "slow", "0", "0", "-d", worker.hostname)
    assert slow(client, "free", 0.8).result(timeout=10) == "done-free"


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_control_autoscale_changes_a_live_workers_bounds(client: Taskora, redis_url: str, tmp_path: Path,
                                                         start_worker, pool: str) -> None:  # fmt: skip
    # Given a worker autoscaled between 1 and 3 slots, and one without autoscale
    worker = start_worker("-P", pool, "--autoscale", "3,1", "-Q", "slow")
    fixed = start_worker("-P", "threads", "-c", "1", "-Q", "slow")
    # When its bounds are raised to 2..4: Celery's reply, and the pool is at the new MIN at once
    assert control(redis_url, tmp_path, "autoscale", "4", "2", "-d", worker.hostname) == [
        f"->  {worker.hostname}: OK", "        autoscale now max=4 min=2"]
    wait_until(lambda: size_of(client, worker.hostname) == 2, what="the pool to grow to the new MIN")
    stats = broadcast(client, "stats", timeout=5, destination=[worker.hostname])[worker.hostname]
    assert stats["autoscaler"] == {"max": 4, "min": 2, "qty": 2}
    # When MAX goes below the size, the pool shrinks to it; bounds that contradict each other change nothing
    assert control(redis_url, tmp_path, "autoscale", "1", "1", "-d", worker.hostname)[1].strip() == (
        "autoscale now max=1 min=1")
    wait_until(lambda: size_of(client, worker.hostname) == 1, what="the pool to shrink to the new MAX")
    assert control(redis_url, tmp_path, "autoscale", "2", "3", "-d", worker.hostname) == [
        f"->  {worker.hostname}: ERROR", "        autoscale: new bounds: need 1 <= MIN <= MAX, got MIN=3 MAX=2"]
    # A worker without autoscale answers Celery's error
    assert control(redis_url, tmp_path, "autoscale", "4", "-d", fixed.hostname) == [
        f"->  {fixed.hostname}: ERROR", "        ValueError('Autoscale not enabled')"]
