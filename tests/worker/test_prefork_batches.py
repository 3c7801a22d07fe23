"""A prefork child claims and completes short jobs in batches (taskora/worker/batches.py); a SIGKILL
still loses nothing and re-runs only the job that was running."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from taskora import JobFailedError, Taskora

from ..cli.helpers import wait_until
from .test_supervisor import _active_ids


def _ran_in(tmp_path: Path, tag: str) -> int:
    """The pid of the process that last started the job tagged ``tag`` (its marker file)."""
    return int((tmp_path / f"started-{tag}").read_text())


def test_a_child_killed_holding_a_batch_reruns_only_the_running_job(
        client: Taskora, start_worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # Given a backlog of short jobs, a long one, then more short ones; the child claims them in batches. The
    # batch watch is told to wait longer than the test, so while the long job runs the completions of the
    # short ones before it still wait to be sent and the short ones after it stay reserved in the child.
    monkeypatch.setenv("TASKORA_TEST_HOLD_AHEAD_S", "60")
    monkeypatch.setenv("TASKORA_TEST_HOLD_COMPLETIONS_S", "60")
    before = [client.dispatch("slow", {"tag": f"before{i}", "seconds": 0}) for i in range(8)]
    victim = client.dispatch("slow", {"tag": "victim", "seconds": 30})
    after = [client.dispatch("slow", {"tag": f"after{i}", "seconds": 0}) for i in range(3)]
    worker = start_worker("-P", "prefork", "-c", "1")
    wait_until((tmp_path / "started-victim").exists, what="the long job to start")
    child = _ran_in(tmp_path, "victim")
    wait_until(lambda: victim.id in _active_ids(client, worker.hostname), what="the supervisor to see the long job")
    waiting = [h for h in before if h.state() == "active"]  # completed in the child, not recorded in Redis yet
    assert waiting, "no completion was waiting in the child's batch"
    assert [h.state() for h in after] == ["active"] * 3  # claimed in the batch, not started
    # When the child is killed
    os.kill(child, signal.SIGKILL)
    # Then the job it was running is the only one charged: a failed attempt
    with pytest.raises(JobFailedError, match="WorkerLostError"):
        victim.result(timeout=15)
    # the jobs it had completed stay completed, with their results, and did not run again
    assert [h.result(timeout=15) for h in before] == [f"done-before{i}" for i in range(8)]
    assert [_ran_in(tmp_path, f"before{i}") for i in range(8)] == [child] * 8
    assert "had completed in the dead child: completion recorded" in worker.log()
    # and the jobs it held but had not started went back uncharged and ran in the new child
    assert [h.result(timeout=15) for h in after] == [f"done-after{i}" for i in range(3)]
    assert all(_ran_in(tmp_path, f"after{i}") != child for i in range(3))
    assert [client.adapter.get_job("slow", h.id)["attempt"] for h in after] == ["1"] * 3  # type: ignore[index]


def test_a_busy_child_sends_its_batch_completions_behind_a_slow_job(client: Taskora, start_worker,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    # Given short jobs claimed in one batch with a long job after them
    before = [client.dispatch("slow", {"tag": f"before{i}", "seconds": 0}) for i in range(8)]
    victim = client.dispatch("slow", {"tag": "victim", "seconds": 30})
    after = client.dispatch("slow", {"tag": "after", "seconds": 0})
    start_worker("-P", "prefork", "-c", "2")
    # Then the short jobs' results arrive while the long one still runs, and the job queued behind it in the
    # batch is handed back for the other child to run meanwhile
    assert [h.result(timeout=15) for h in before] == [f"done-before{i}" for i in range(8)]
    assert after.result(timeout=15) == "done-after"
    assert victim.state() == "active"


def test_completions_that_overflow_the_running_board_are_sent_at_once_not_rerun(
        client: Taskora, start_worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # Given a child whose running board holds only two or three waiting completions (a test hook shrinks it;
    # a real one fills with many tasks' batches of results near DEFER_RESULT_MAX), short jobs claimed in
    # batches, and a long job after them while the batch watch waits longer than the test
    monkeypatch.setenv("TASKORA_TEST_BOARD_HALF_SIZE", "400")
    monkeypatch.setenv("TASKORA_TEST_HOLD_AHEAD_S", "60")
    monkeypatch.setenv("TASKORA_TEST_HOLD_COMPLETIONS_S", "60")
    before = [client.dispatch("slow", {"tag": f"before{i}", "seconds": 0}) for i in range(8)]
    victim = client.dispatch("slow", {"tag": "victim", "seconds": 30})
    worker = start_worker("-P", "prefork", "-c", "1")
    wait_until((tmp_path / "started-victim").exists, what="the long job to start")
    child = _ran_in(tmp_path, "victim")
    wait_until(lambda: victim.id in _active_ids(client, worker.hostname), what="the supervisor to see the long job")
    # When the child is killed while the long job runs
    os.kill(child, signal.SIGKILL)
    # Then every short job it completed stays completed with its result, ran once, in that child, and was
    # neither handed back nor counted lost: a completion that did not fit on the board was sent at once
    assert [h.result(timeout=15) for h in before] == [f"done-before{i}" for i in range(8)]
    assert [_ran_in(tmp_path, f"before{i}") for i in range(8)] == [child] * 8
    jobs = [client.adapter.get_job("slow", h.id) or {} for h in before]
    assert [(job.get("attempt"), job.get("lostCount")) for job in jobs] == [("1", None)] * 8
    assert "returned to the queue" not in worker.log()
    # and the job it was running is still on the board however full: its death is a failed attempt
    with pytest.raises(JobFailedError, match="WorkerLostError"):
        victim.result(timeout=15)
