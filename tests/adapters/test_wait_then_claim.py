"""Waiting for work and claiming as the wait ends (RedisAdapter.wait_then_claim), on both engines.

On a real Redis the marker wait and the claim go out in one write, so the claim runs inside Redis
the moment a job arrives; since nobody knows when that is, the claim reads Redis' clock. These
tests pin what a caller relies on: the job that ended the wait is the one claimed, its timestamps
are those of the moment it was claimed, a wait that times out reports the next due job, and a stop
that ends a wait hands the claimed job straight back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis

from taskora import Taskora
from taskora.adapters.redis import EnqueueRequest
from taskora.clock import VirtualClock
from taskora.worker.feeder import FEEDER_MIN_SLOTS
from taskora.worker.loop import Worker
from tests.adapters.engine_loss import forget_engine


def _enqueue(app: Taskora, task: str, job_id: str, delay_ms: int = 0) -> None:
    app.adapter.enqueue(EnqueueRequest(task, job_id, b"null", delay_ms=delay_ms))


def test_a_job_arriving_during_the_wait_is_claimed_with_the_time_it_was_claimed(app: Taskora) -> None:
    app.task("arrives", lambda d: d)
    claimed: list = []
    waiter = threading.Thread(target=lambda: claimed.append(app.adapter.wait_then_claim("arrives", 5.0, "tok", 30_000)))
    waiter.start()
    time.sleep(0.3)  # the wait is blocking by now; the claim's clock must not be the one of its start
    before = int(time.time() * 1000)
    _enqueue(app, "arrives", "late-job")
    waiter.join(10)
    after = int(time.time() * 1000)
    job = claimed[0].job
    assert job is not None and job.id == "late-job" and job.token == "tok"
    assert job.fields["state"] == "active"
    assert before - 5 <= int(job.fields["processedOn"]) <= after + 5
    assert claimed[0].more is False


def test_a_wait_that_times_out_reports_the_next_due_job(app: Taskora) -> None:
    app.task("later", lambda d: d)
    _enqueue(app, "later", "delayed-job", delay_ms=60_000)
    woken = app.adapter.wait_then_claim("later", 5.0, "tok", 30_000)  # the enqueue's wake-up: nothing due yet
    assert woken.job is None and woken.next_due_ms is not None
    started = time.monotonic()
    result = app.adapter.wait_then_claim("later", 0.2, "tok", 30_000)
    assert result.job is None and time.monotonic() - started >= 0.15
    assert result.next_due_ms is not None and result.next_due_ms > app.adapter.now_ms() + 50_000


def test_a_claim_says_whether_more_jobs_are_waiting(app: Taskora) -> None:
    app.task("two", lambda d: d)
    _enqueue(app, "two", "a")
    _enqueue(app, "two", "b")
    first = app.adapter.wait_then_claim("two", 1.0, "t1", 30_000)
    second = app.adapter.claim("two", "t2", 30_000)
    assert (first.job.id, first.more) == ("a", True)
    assert (second.job.id, second.more) == ("b", False)


def test_with_a_virtual_clock_the_claim_uses_that_clock(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock(1_000_000)
    app = make_app(clock=clock)
    app.task("virtual", lambda d: d)
    _enqueue(app, "virtual", "v")
    job = app.adapter.wait_then_claim("virtual", 1.0, "tok", 30_000).job
    assert job is not None and job.fields["processedOn"] == "1000000"


@pytest.mark.parametrize("functions", ["1", "0"], ids=["function-library", "evalsha"])
def test_a_server_that_lost_the_engine_does_not_lose_the_claim(redis_url: str, functions: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("TASKORA_REDIS_FUNCTIONS", functions)
    app = Taskora(redis_url)
    try:
        app.task("flushed", lambda d: d)
        _enqueue(app, "flushed", "j")
        forget_engine(redis_url)
        job = app.adapter.wait_then_claim("flushed", 1.0, "tok", 30_000).job
        assert job is not None and job.id == "j"
    finally:
        app.close()


def test_a_job_claimed_behind_a_failed_wait_is_returned_not_dropped(redis_url: str) -> None:
    """The wait and the claim go out together; should the wait's reply be an error while the claim took a job,
    the job is returned (raised instead, it would stay active, run by nobody, until its lock ran out). A failed
    wait whose claim took nothing is raised."""
    app = Taskora(redis_url)
    try:
        app.task("behind", lambda d: d)
        runner = app.adapter.runner
        real = runner.call_many

        def wait_failed(*commands):
            return [redis.ConnectionError("the wait's connection broke"), *real(*commands)[1:]]

        runner.call_many = wait_failed
        with pytest.raises(redis.ConnectionError):
            app.adapter.wait_then_claim("behind", 0.1, "tok", 30_000)
        _enqueue(app, "behind", "j")
        job = app.adapter.wait_then_claim("behind", 1.0, "tok", 30_000).job
        assert job is not None and job.id == "j"
    finally:
        app.close()


def _stop_as_the_wait_ends(app: Taskora, worker: Worker, task: str) -> threading.Event:
    """Make the worker's first wait end with a job just as a stop begins; returns 'that wait ran'."""
    original = app.adapter.wait_then_claim
    ran = threading.Event()

    def wait_then_claim(*args, **kwargs):
        if ran.is_set():
            return original(*args, **kwargs)
        _enqueue(app, task, "caught-by-the-stop")
        claimed = original(*args, **kwargs)
        worker._stopping.set()  # the stop flag is up by the time the claim's reply is read
        ran.set()
        return claimed

    app.adapter.wait_then_claim = wait_then_claim  # type: ignore[method-assign]
    return ran


def _assert_handed_back(app: Taskora, task: str, runs: list) -> None:
    assert runs == []
    assert app.adapter.get_fields(task, "caught-by-the-stop", ["state"])["state"] == "waiting"
    assert app.adapter.counts(task)["active"] == 0


def test_a_stop_that_ends_a_slots_wait_hands_the_job_back(app: Taskora) -> None:
    runs: list = []
    task = app.task("slot-stop", runs.append)
    worker = Worker(app, [task], concurrency=1)
    ran = _stop_as_the_wait_ends(app, worker, "slot-stop")
    worker.start()
    assert ran.wait(10)
    worker.stop(timeout=10)
    _assert_handed_back(app, "slot-stop", runs)


def test_a_stop_that_ends_a_fed_slots_watch_hands_the_job_back(app: Taskora) -> None:
    runs: list = []
    task = app.task("watch-stop", runs.append)
    worker = Worker(app, [task], concurrency=FEEDER_MIN_SLOTS)
    ran = _stop_as_the_wait_ends(app, worker, "watch-stop")
    worker.start()
    assert ran.wait(10)
    worker.stop(timeout=10)
    _assert_handed_back(app, "watch-stop", runs)
