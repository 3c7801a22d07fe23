"""A killed worker's running jobs are offered again within seconds, whatever the lock TTL; a slow but
alive worker keeps its job; restarts of healthy workers never fail a healthy job."""

from __future__ import annotations

import os
import time

from taskora import Taskora

from ..waiting import wait_until


def test_jobs_of_a_killed_worker_run_again_within_3s_and_never_fail(client: Taskora, start_worker, runs) -> None:
    # Given a job (default 30 s lock) that hangs in every worker until its fourth run, and a spare worker
    handle = client.dispatch("poison", {"how": "hang", "until_run": 4})
    workers = [start_worker("-P", "threads", "-c", "1")]
    for run in (1, 2, 3):
        wait_until(lambda n=run: len(runs(handle.id)) == n, 15, f"run {run} to start")
        workers.append(start_worker("-P", "threads", "-c", "1"))
        # When the worker running it is killed (SIGKILL of its whole process group)
        killed_at = time.monotonic()
        running = next(w for w in workers if w.proc.poll() is None and str(w.proc.pid) == runs(handle.id)[-1]
                       .split(":")[0])
        running.stop()
        # Then another worker runs it again within 3 s (not after the 30 s lock), not charged an attempt
        wait_until(lambda n=run: len(runs(handle.id)) == n + 1, 10, f"run {run + 1} to start")
        assert time.monotonic() - killed_at < 3.0
    assert handle.result(timeout=15) == "survived"
    job = client.adapter.get_job("poison", handle.id)
    assert job["attempt"] == "1" and job["lostCount"] == "3" and "stalledCount" not in job, job


def test_a_slow_job_of_a_live_worker_is_never_taken_away(client: Taskora, start_worker, runs) -> None:
    # Given two workers, one of them busy in a handler far longer than a liveness key lasts
    start_worker("-P", "threads", "-c", "1")
    start_worker("-P", "threads", "-c", "1")
    handle = client.dispatch("poison", {"how": "slow", "seconds": 5})
    # Then it runs once, to the end
    assert handle.result(timeout=20) == "survived"
    assert len(runs(handle.id)) == 1
    assert "lostCount" not in client.adapter.get_job("poison", handle.id)


def test_a_handler_holding_the_gil_for_seconds_in_prefork_keeps_its_job(client: Taskora, start_worker,
                                                                        runs) -> None:  # fmt: skip
    # Given two prefork workers, one child stuck in a single C call (~4 s) that starves its own threads
    start_worker("-P", "prefork", "-c", "1")
    start_worker("-P", "prefork", "-c", "1")
    handle = client.dispatch("poison", {"how": "gil", "n": 400_000_000})
    # Then its supervisor keeps it alive: it runs once, to the end
    assert handle.result(timeout=60) == "survived"
    assert len(runs(handle.id)) == 1
    assert "lostCount" not in client.adapter.get_job("poison", handle.id)


def test_a_killed_prefork_supervisor_takes_its_children_along_and_their_jobs_come_back(
        client: Taskora, start_worker, runs) -> None:  # fmt: skip
    doomed = start_worker("-P", "prefork", "-c", "1")
    handle = client.dispatch("poison", {"how": "hang", "until_run": 2})
    wait_until(lambda: runs(handle.id), 15, "the job to start in a child")
    start_worker("-P", "prefork", "-c", "1")
    # When only the supervisor process is killed
    killed_at = time.monotonic()
    doomed.proc.kill()
    # Then its child dies with it (no orphan runs the job on), and another worker runs the job within 3 s
    wait_until(lambda: len(runs(handle.id)) == 2, 10, "the second run")
    assert time.monotonic() - killed_at < 3.0
    assert handle.result(timeout=15) == "survived"
    child_pid = int(runs(handle.id)[0].split(":")[0])
    wait_until(lambda: not _alive(child_pid), 5, "the orphaned child to be gone")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (dead, not yet reaped by init) counts as gone
        return stat.read().split(") ")[1][0] != "Z"
