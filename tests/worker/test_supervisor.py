"""The prefork supervisor under a real ``taskora worker -P prefork`` subprocess."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from taskora import JobFailedError, Taskora

from ..cli.helpers import PROJ, run_cli, wait_until


def _children(redis_url: str, tmp_path: Path, hostname: str) -> list[int]:
    out = run_cli(redis_url, tmp_path, "inspect", "stats", "-A", PROJ, "--json", "-d", hostname)
    return sorted(c["pid"] for c in json.loads(out.stdout)[hostname]["children"])


def _active_ids(client: Taskora, hostname: str) -> list[str]:
    """The jobs a worker's supervisor knows its children hold (``inspect active``)."""
    return [job["id"] for job in client.broadcast("active", timeout=1.0, destination=[hostname]).get(hostname, [])]


def test_sigkill_of_a_child_fails_its_running_job_with_worker_lost_error(client: Taskora, start_worker,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    # Given a prefork worker running a job (its task has no retries)
    worker = start_worker("-P", "prefork", "-c", "2")
    handle = client.dispatch("slow", {"tag": "victim", "seconds": 30})
    marker = tmp_path / "started-victim"
    wait_until(marker.exists, what="the job to start in a child")
    # When the child running it is killed
    os.kill(int(marker.read_text()), signal.SIGKILL)
    # Then that death is the job's failed attempt, at once, and a fresh child serves the next job
    with pytest.raises(JobFailedError) as failed:
        handle.result(timeout=15)
    assert failed.value.error == "worker process died (signal 9) while running this job"
    assert "died (signal 9) holding 1 job(s)" in worker.log()
    assert client.dispatch("add", {"a": 1, "b": 2}).result(timeout=15) == 3


def test_a_child_killed_with_a_claim_in_flight_hands_that_job_back_too(
        client: Taskora, start_worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # Given a backlog: short jobs, then a long one, then one more. After a short job the child claims the
    # job after the long one ahead, and reads that claim's reply only when the long one ends (here the claim
    # watch is told to wait longer than the test before it hands that job back itself).
    monkeypatch.setenv("TASKORA_TEST_HOLD_AHEAD_S", "60")
    quick = [client.dispatch("slow", {"tag": f"quick{i}", "seconds": 0}) for i in range(3)]
    victim = client.dispatch("slow", {"tag": "victim", "seconds": 30})
    ahead = client.dispatch("slow", {"tag": "ahead", "seconds": 0})
    worker = start_worker("-P", "prefork", "-c", "1")
    try:
        assert [h.result(timeout=15) for h in quick] == ["done-quick0", "done-quick1", "done-quick2"]
    except TimeoutError as exc:  # seen twice in CI, never here: say where each job was, and what the worker said
        states = {h.id: h.state() for h in [*quick, victim, ahead]}
        raise AssertionError(f"{exc}; job states {states}; worker log:\n{worker.log()[-6000:]}") from exc
    marker = tmp_path / "started-victim"
    wait_until(marker.exists, what="the long job to start")
    wait_until(lambda: ahead.state() == "active", what="the next job to be claimed ahead")
    wait_until(lambda: victim.id in _active_ids(client, worker.hostname), what="the supervisor to see the long job")
    # When the child dies
    os.kill(int(marker.read_text()), signal.SIGKILL)
    # Then the job it claimed ahead is found by its lock and handed back at once, not after stall recovery
    assert ahead.result(timeout=10) == "done-ahead"
    assert f"Task slow[{ahead.id}] returned to the queue" in worker.log()
    with pytest.raises(JobFailedError, match="WorkerLostError"):  # the job it was running: a failed attempt
        victim.result(timeout=10)


def test_sighup_replaces_children_without_dropping_jobs(client: Taskora, redis_url: str, start_worker,
                                                        tmp_path: Path) -> None:  # fmt: skip
    worker = start_worker("-P", "prefork", "-c", "2")
    before = _children(redis_url, tmp_path, worker.hostname)
    handle = client.dispatch("slow", {"tag": "hup", "seconds": 1.0})
    wait_until((tmp_path / "started-hup").exists, what="the job to start")
    worker.signal(signal.SIGHUP)
    assert handle.result(timeout=15) == "done-hup"  # the old child finished it while draining
    after = wait_until(lambda: (p := _children(redis_url, tmp_path, worker.hostname)) and len(p) == 2
                       and not set(p) & set(before) and p, what="two fresh children")
    assert client.dispatch("add", {"a": 5, "b": 5}).result(timeout=15) == 10
    assert len(after) == 2


def test_max_tasks_per_child_replaces_the_child(client: Taskora, start_worker) -> None:
    start_worker("-P", "prefork", "-c", "1", "--max-tasks-per-child", "2")
    pids = [client.dispatch("whoami", None).result(timeout=15) for _ in range(6)]
    assert len(set(pids)) >= 3  # a new child every two jobs


def test_warm_shutdown_of_prefork_finishes_jobs_and_exits_zero(client: Taskora, start_worker,
                                                               tmp_path: Path) -> None:  # fmt: skip
    worker = start_worker("-P", "prefork", "-c", "2")
    handles = [client.dispatch("slow", {"tag": f"p{i}", "seconds": 0.8}) for i in range(2)]
    wait_until(lambda: all((tmp_path / f"started-p{i}").exists() for i in range(2)), what="both jobs to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit() == 0
    assert [h.state() for h in handles] == ["completed", "completed"]
    # each child announced itself (compat fires worker_process_init from this), the main process its end
    assert [(tmp_path / f"process-init-{i}").read_text() for i in range(2)] == ["prefork", "prefork"]
    assert (tmp_path / "worker-shutdown").read_text() == worker.hostname


def test_cold_shutdown_of_prefork_requeues_jobs(client: Taskora, start_worker, tmp_path: Path) -> None:
    worker = start_worker("-P", "prefork", "-c", "1")
    handle = client.dispatch("slow", {"tag": "pc", "seconds": 30})
    wait_until((tmp_path / "started-pc").exists, what="the job to start")
    worker.signal(signal.SIGINT)
    wait_until(lambda: "warm shutdown requested" in worker.log(), what="the warm shutdown to begin")
    worker.signal(signal.SIGINT)
    assert worker.wait_exit() == 0
    assert handle.state() == "waiting"
