"""Claiming ahead in a slot of its own (taskora/worker/lookahead.py), on both engines.

After a short job, with more jobs waiting, a solo slot holds the next job claimed while it runs the
current one, and once busy it keeps two requests in flight. These tests pin what that must not change:
every job runs once and in order, a stop hands the jobs held ahead back to the front of the queue, in
their order, without running them, a cancel that comes while a job is held ahead means it never starts,
and jobs claimed behind a slow one go back for an idle worker.
"""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from taskora import Taskora
from taskora.adapters.base import ClaimedJob
from taskora.worker import lookahead
from taskora.worker.claims_ahead import ClaimsAhead
from taskora.worker.lookahead import Lookahead
from taskora.worker.loop import Worker
from tests.waiting import wait_until


class Reservations:
    """A worker job hook recording the jobs claimed ahead and the ones handed back unstarted."""

    def __init__(self) -> None:
        self.reserved: list[str] = []
        self.released: list[str] = []

    def job_reserved(self, job: Any) -> None:
        self.reserved.append(job.id)

    def job_released(self, job: Any) -> None:
        self.released.append(job.id)


def test_a_backlog_of_short_jobs_runs_once_each_in_order_mostly_claimed_ahead(app: Taskora) -> None:
    runs: list[int] = []
    task = app.task("short", lambda d: runs.append(d["i"]))
    handles = task.dispatch_many([{"i": i} for i in range(300)])
    hooks = Reservations()
    worker = Worker(app, [task], concurrency=1)
    worker.job_hooks.append(hooks)
    worker.start()
    try:
        for handle in handles:
            handle.result(timeout=30)
    finally:
        worker.stop(timeout=10)
    assert runs == list(range(300))
    assert len(hooks.reserved) > 150, "the slot should run most of a backlog of short jobs from claims made ahead"
    assert hooks.released == [] and worker.reserved == {}
    assert app.adapter.counts("short")["active"] == 0


class SlowJobAt:
    """A task whose backlog is jobs 0..count-1: job ``slow`` blocks until ``release`` is set, the others return at
    once (claiming ahead is allowed after any job here). With ``slow`` 1 the slot claims job 2 ahead as job 1
    starts; from job 5 on it has two claims in flight as a job starts (the jobs after it)."""

    def __init__(self, app: Taskora, name: str, monkeypatch: pytest.MonkeyPatch, count: int = 4, slow: int = 1,
                 **options: Any) -> None:  # fmt: skip
        monkeypatch.setattr(lookahead, "AHEAD_AFTER_JOBS_UNDER_S", 1.0)  # however slow this machine runs job 0
        self.release, self.blocking = threading.Event(), threading.Event()
        self.runs: list[int] = []
        self.slow = slow
        self.task = app.task(name, self._handler, **options)
        self.handles = self.task.dispatch_many([{"i": i} for i in range(count)])

    def _handler(self, data: dict[str, int]) -> None:
        self.runs.append(data["i"])
        if data["i"] == self.slow:
            self.blocking.set()
            self.release.wait(15)


def _one_job_held_ahead(app: Taskora, name: str,
                        monkeypatch: pytest.MonkeyPatch) -> tuple[Worker, list[Any], list[int], threading.Event]:
    """Jobs 0..3; job 0 is short, job 1 blocks until the returned event is set. While job 1 runs, job 2 is
    claimed ahead (active in the store, not started), and stays there: the claim watch's patience is made
    longer than the test."""
    monkeypatch.setattr(lookahead, "RELEASE_AHEAD_AFTER_S", 60.0)
    backlog = SlowJobAt(app, name, monkeypatch)
    worker = Worker(app, [backlog.task], concurrency=1)
    worker.start()
    assert backlog.blocking.wait(10)
    wait_until(lambda: backlog.handles[2].state() == "active", what="job 2 claimed ahead")
    return worker, backlog.handles, backlog.runs, backlog.release


def test_a_stop_hands_the_job_claimed_ahead_back_to_the_front_unstarted(app: Taskora,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    worker, handles, runs, release = _one_job_held_ahead(app, "held-ahead", monkeypatch)
    hooks = Reservations()
    worker.job_hooks.append(hooks)
    stopper = threading.Thread(target=worker.stop, kwargs={"timeout": 10})
    stopper.start()
    wait_until(worker._stopping.is_set, what="the stop to begin")
    release.set()
    stopper.join(15)
    assert runs == [0, 1]
    assert [h.state() for h in handles] == ["completed", "completed", "waiting", "waiting"]
    assert hooks.released == [handles[2].id]
    assert app.adapter.counts("held-ahead")["active"] == 0
    assert app.adapter.claim("held-ahead", "next-worker", 30_000).job.id == handles[2].id


def test_a_job_cancelled_while_claimed_ahead_never_starts(app: Taskora, monkeypatch: pytest.MonkeyPatch) -> None:
    worker, handles, runs, release = _one_job_held_ahead(app, "cancel-ahead", monkeypatch)
    try:
        assert handles[2].cancel("not needed") == "flagged"
        wait_until(lambda: handles[2].id in worker._cancel_before_start, what="the worker to hear of the cancel")
        release.set()
        handles[3].result(timeout=15)
    finally:
        worker.stop(timeout=10)
    assert runs == [0, 1, 3]
    assert handles[2].state() == "cancelled"
    assert app.adapter.counts("cancel-ahead")["active"] == 0


class ClaimsSent:
    """A worker job hook recording the claims its slots sent ahead, by lock token."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def claim_sent(self, task: str, token: str) -> None:
        self.tokens.append(token)


def test_a_job_claimed_ahead_behind_a_slow_one_goes_back_for_an_idle_worker(app: Taskora,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Job 0 is short, so its slot claims job 2 ahead as job 1 starts; job 1 then runs long. Job 2 must not
    # wait for it while another worker idles: it goes back to the queue, and the idle worker runs it.
    backlog = SlowJobAt(app, "slow-after-short", monkeypatch)
    task, handles, runs, release = backlog.task, backlog.handles, backlog.runs, backlog.release
    sent = ClaimsSent()
    busy, idle = Worker(app, [task], concurrency=1), Worker(app, [task], concurrency=1)
    busy.job_hooks.append(sent)
    busy.start()
    try:
        assert backlog.blocking.wait(10)
        assert len(sent.tokens) == 1, "job 0 was short: its slot claimed the next job ahead as job 1 started"
        idle.start()
        assert handles[2].result(timeout=10) is None and handles[3].result(timeout=10) is None
        assert sorted(runs) == [0, 1, 2, 3] and handles[1].state() == "active"  # job 3 may go first
    finally:
        release.set()
        busy.stop(timeout=10)
        idle.stop(timeout=10)
    assert handles[1].state() == "completed" and sorted(runs) == [0, 1, 2, 3]
    assert busy.reserved == {} and idle.reserved == {}
    counts = app.adapter.counts("slow-after-short")
    assert counts["active"] == 0 and counts["completed"] == 4


def test_a_job_whose_claim_ahead_outlived_its_lock_does_not_run_twice(app: Taskora,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Should the claim watch not hand job 2 back (here it never tries), job 2's lock lapses while job 1 runs
    # and stall recovery returns it to the queue. Reading the old claim afterwards, the slot must not run it
    # on the strength of that claim: it runs once, when claimed again.
    monkeypatch.setattr(lookahead, "RELEASE_AHEAD_AFTER_S", 60.0)
    backlog = SlowJobAt(app, "lapsed-ahead", monkeypatch, count=3, stall={"interval": 0.3, "max_count": 5})
    task, handles, runs, requeued = backlog.task, backlog.handles, backlog.runs, backlog.release  # job 1 ends then
    requeued_events = []
    task.on("stalled", lambda event: (requeued_events.append(event), requeued.set()))
    worker = Worker(app, [task], concurrency=1)
    worker.start()
    try:
        assert handles[2].result(timeout=15) is None
    finally:
        requeued.set()
        worker.stop(timeout=10)
    assert requeued_events, "job 2's lock lapsed and stall recovery returned it"
    assert runs == [0, 1, 2]
    assert app.adapter.counts("lapsed-ahead")["active"] == 0


class _ReplyNeverCame:
    """A request whose connection broke before its reply was read (and, here, before it was sent at all)."""

    def __init__(self, task: str, token: str) -> None:
        self.task, self.token = task, token

    def result(self) -> Any:
        raise RedisConnectionError("connection closed before the reply was read")


def test_a_completion_whose_reply_is_lost_is_sent_again(app: Taskora) -> None:
    runs: list[int] = []
    task = app.task("lost-reply", lambda d: runs.append(d["i"]))
    handles = task.dispatch_many([{"i": i} for i in range(40)])
    real_ack_later = app.adapter.ack_later
    lost: list[int] = []

    def ack_later(job: Any, *args: Any, **kwargs: Any) -> Any:
        if len(lost) < 5:  # the first few completions sent ahead never reach Redis
            lost.append(1)
            return _ReplyNeverCame(job.task, kwargs["next_token"])
        return real_ack_later(job, *args, **kwargs)

    app.adapter.ack_later = ack_later  # type: ignore[method-assign]
    worker = Worker(app, [task], concurrency=1)
    worker.start()
    try:
        assert [h.result(timeout=30) for h in handles] == [None] * 40
    finally:
        worker.stop(timeout=10)
    assert len(lost) == 5 and runs == list(range(40))
    assert app.adapter.counts("lost-reply")["active"] == 0


def test_a_slot_two_claims_ahead_hands_both_back_in_order_on_a_stop(app: Taskora,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # A busy slot keeps two requests in flight: as job 5 starts, jobs 6 and 7 are claimed and not started.
    # A stop gives both back to the front of the queue, unstarted, in their order, ahead of job 8.
    monkeypatch.setattr(lookahead, "RELEASE_AHEAD_AFTER_S", 60.0)
    backlog = SlowJobAt(app, "two-ahead", monkeypatch, count=9, slow=5)
    handles, hooks = backlog.handles, Reservations()
    worker = Worker(app, [backlog.task], concurrency=1)
    worker.job_hooks.append(hooks)
    worker.start()
    assert backlog.blocking.wait(10)
    wait_until(lambda: [h.state() for h in handles[6:9]] == ["active", "active", "waiting"],
               what="jobs 6 and 7 claimed ahead as job 5 runs")
    stopper = threading.Thread(target=worker.stop, kwargs={"timeout": 10})
    stopper.start()
    wait_until(worker._stopping.is_set, what="the stop to begin")
    backlog.release.set()
    stopper.join(15)
    assert backlog.runs == [0, 1, 2, 3, 4, 5]
    assert sorted(hooks.released) == sorted([handles[6].id, handles[7].id])
    assert app.adapter.counts("two-ahead")["active"] == 0
    claimed = [app.adapter.claim("two-ahead", f"next-{i}", 30_000).job for i in range(3)]
    assert [job.id for job in claimed if job] == [handles[6].id, handles[7].id, handles[8].id]


def test_both_jobs_claimed_ahead_behind_a_slow_one_go_back_for_an_idle_worker(
        app: Taskora, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # Job 5 runs long with jobs 6 and 7 claimed behind it: the claim watch hands both back, and the idle
    # worker runs every job after job 5 while job 5 is still running.
    backlog = SlowJobAt(app, "two-behind-slow", monkeypatch, count=10, slow=5)
    handles = backlog.handles
    busy, idle = Worker(app, [backlog.task], concurrency=1), Worker(app, [backlog.task], concurrency=1)
    busy.start()
    try:
        assert backlog.blocking.wait(10)
        idle.start()
        assert [h.result(timeout=10) for h in handles[6:]] == [None] * 4
        assert handles[5].state() == "active"
    finally:
        backlog.release.set()
        busy.stop(timeout=10)
        idle.stop(timeout=10)
    assert sorted(backlog.runs) == list(range(10)) and busy.reserved == {} and idle.reserved == {}
    assert app.adapter.counts("two-behind-slow")["completed"] == 10


def test_a_job_read_while_an_earlier_one_is_held_runs_after_it() -> None:
    # A slot that holds a second claim's job in its queue (the first one started) and reads one more claim
    # must run the job it held first: pop_ahead takes ``ahead``, then the queue in order.
    slot = Lookahead()
    earlier, later = cast(ClaimedJob, object()), cast(ClaimedJob, object())
    slot.queue.append(earlier)
    ClaimsAhead._hold(slot, later)
    assert slot.ahead is None and list(slot.queue) == [earlier, later]


def test_a_claim_sent_while_the_watch_hands_back_takes_the_job_handed_back(app: Taskora,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A busy slot sends its finish (claiming one job) and then a second claim. Here the second waits until the
    # first claim is due and the watch is handing its job back, then goes out: it must wait for the hand-back and
    # take that job, so jobs run in order. Before this was fixed it went out meanwhile and took the next job, and
    # the job handed back ran after it.
    monkeypatch.setattr(lookahead, "AHEAD_AFTER_JOBS_UNDER_S", 1.0)  # however slow this machine runs a job
    monkeypatch.setattr(lookahead, "RELEASE_AHEAD_AFTER_S", 0.05)
    runs: list[int] = []
    task = app.task("sent-during-release", lambda d: runs.append(d["i"]))
    handles = task.dispatch_many([{"i": i} for i in range(12)])
    releasing, second_sent = threading.Event(), threading.Event()
    real_claim_ahead, real_release = ClaimsAhead.claim_ahead, ClaimsAhead._release_claim
    sent_while_releasing: list[bool] = []

    def claim_ahead(self: ClaimsAhead, *args: Any, with_permit: bool = True, **kwargs: Any) -> bool:
        if not with_permit and not releasing.is_set():  # the first second claim waits for the watch
            assert releasing.wait(10), "the watch should find the slot's first claim due"
            sent = real_claim_ahead(self, *args, with_permit=False, **kwargs)
            second_sent.set()
            return sent
        return real_claim_ahead(self, *args, with_permit=with_permit, **kwargs)

    def release_claim(self: ClaimsAhead, claim: Any) -> bool:
        if not releasing.is_set():  # the first hand-back: watch what the slot sends meanwhile
            releasing.set()
            sent_while_releasing.append(second_sent.wait(0.5))  # the window the old code sent in
        return real_release(self, claim)

    monkeypatch.setattr(ClaimsAhead, "claim_ahead", claim_ahead)
    monkeypatch.setattr(ClaimsAhead, "_release_claim", release_claim)
    worker = Worker(app, [task], concurrency=1)
    worker.start()
    try:
        assert [h.result(timeout=15) for h in handles] == [None] * 12
    finally:
        worker.stop(timeout=10)
    assert sent_while_releasing == [False], "the slot sent a claim while the watch was handing its claims back"
    assert runs == list(range(12))
    assert app.adapter.counts("sent-during-release")["active"] == 0


def test_the_watch_leaves_the_claims_of_a_slot_that_sent_another_since(app: Taskora) -> None:
    # The watch found a claim due, but before it took the slot's lock the slot ended its job and sent another:
    # the job the claim was sent behind is over, so nothing goes back now (the newer claim is watched itself).
    task = app.task("sent-since", lambda d: None)
    handles = task.dispatch_many([{"i": i} for i in range(3)])
    worker = Worker(app, [task], concurrency=1)
    slot = Lookahead()
    older = worker.ahead._plain_claim(task.name, 30_000)()
    newer = worker.ahead._plain_claim(task.name, 30_000)()
    slot.in_flight.extend([older, newer])
    worker.ahead._release_claimed_ahead(slot, older)
    assert not older.released and not newer.released
    assert [h.state() for h in handles] == ["active", "active", "waiting"]
    worker.ahead._release_claimed_ahead(slot, newer)
    assert older.released and newer.released
    assert [h.state() for h in handles] == ["waiting", "waiting", "waiting"]
    assert [app.adapter.claim("sent-since", f"t{i}", 30_000).job.id for i in range(2)] == [h.id for h in handles[:2]]
