"""Slot groups with a feeder (taskora/worker/feeder.py), on both engines.

A task with FEEDER_MIN_SLOTS or more slots in one process is claimed for and acknowledged in
batches by one feeder thread; everything a slot of its own guarantees must hold here too: every
job runs once, failures and retries take their own path, a stop loses and doubles nothing, and a
job finishing while the feeder waits on an empty queue is acknowledged at once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
import redis

from taskora import Taskora
from taskora.adapters.redis import ClaimedJob, Completion, EnqueueRequest
from taskora.errors import JobFailedError
from taskora.worker.feeder import FEEDER_MIN_SLOTS, WATCHERS
from tests.waiting import wait_until
from tests.worker.retention import KEEP_EVERY_RESULT

SLOTS = FEEDER_MIN_SLOTS * 2


def _enqueue(app: Taskora, task: str, n: int) -> list[str]:
    ids = [f"job-{i}" for i in range(n)]
    app.adapter.enqueue_many([EnqueueRequest(task, job_id, b"null") for job_id in ids])
    return ids


def test_ack_many_completes_a_batch_and_claims_for_idle_slots(app: Taskora) -> None:
    adapter = app.adapter
    app.task("batch", lambda d: d)
    _enqueue(app, "batch", 3)
    first = adapter.ack_many("batch", [], claim=2, token="t1", lock_ttl_ms=30_000)
    assert [j.id for j in first.jobs] == ["job-0", "job-1"] and first.statuses == []
    assert first.jobs[0].fields["state"] == "active"

    done = [Completion(first.jobs[0], b'"a"'), Completion(first.jobs[1], b'"b"', keep=False)]
    stranger = Completion(ClaimedJob("batch", "job-2", "not-its-token", {}), b'"x"')
    second = adapter.ack_many("batch", [*done, stranger], claim=5, token="t2", lock_ttl_ms=30_000)
    # job-2 was still waiting, so the 'stranger' ack is refused, and then job-2 is claimed
    assert second.statuses == ["ok", "ok", "lost"]
    assert [j.id for j in second.jobs] == ["job-2"] and second.next_due_ms is None
    assert adapter.get_fields("batch", "job-0", ["state", "result"]) == {"state": "completed", "result": b'"a"'}
    assert adapter.get_job("batch", "job-1") is None  # keep=False: nobody reads it, so it is gone
    assert adapter.counts("batch")["active"] == 1


def test_a_fed_group_runs_every_job_once_with_results(make_app: Callable[..., Taskora]) -> None:
    app = make_app(retention=KEEP_EVERY_RESULT)
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def record(n: int) -> int:
        with lock:
            runs[n] += 1
        return n * 2

    task = app.task("fed-record", record, concurrency=SLOTS)
    handles = task.dispatch_many(list(range(600)))
    app.start()
    assert [h.result(timeout=60) for h in handles] == [n * 2 for n in range(600)]
    assert set(runs.values()) == {1} and len(runs) == 600


def test_failures_and_retries_of_fed_slots_take_their_own_transitions(make_app: Callable[..., Taskora]) -> None:
    app = make_app()
    attempts: Counter[int] = Counter()
    lock = threading.Lock()

    def flaky(n: int) -> int:
        with lock:
            attempts[n] += 1
            attempt = attempts[n]
        if n % 3 == 0:
            raise ValueError(f"never works: {n}")
        if n % 3 == 1 and attempt == 1:
            raise RuntimeError("works the second time")
        return n

    task = app.task("fed-flaky", flaky, concurrency=SLOTS, retry={"attempts": 2, "delay": 0.01})
    handles = task.dispatch_many(list(range(60)))
    app.start()
    for n, handle in enumerate(handles):
        if n % 3 == 0:
            with pytest.raises(JobFailedError, match=f"never works: {n}"):
                handle.result(timeout=30)
        else:
            assert handle.result(timeout=30) == n
    assert all(attempts[n] == (1 if n % 3 == 2 else 2) for n in range(60))


def test_one_job_at_a_time_is_acknowledged_while_the_feeder_waits(make_app: Callable[..., Taskora]) -> None:
    # With an empty queue the feeder blocks on the marker; the slot that runs the next job then
    # acknowledges it itself, so each result arrives without waiting for the feeder's timeout.
    app = make_app()
    task = app.task("fed-single", lambda n: n + 1, concurrency=SLOTS)
    app.start()
    for n in range(30):
        assert task.dispatch(n).result(timeout=2) == n + 1


def test_a_warm_stop_in_the_middle_loses_and_doubles_nothing(make_app: Callable[..., Taskora]) -> None:
    app = make_app()
    total = 2000
    runs: Counter[int] = Counter()
    lock = threading.Lock()
    all_ran = threading.Event()

    def record(n: int) -> None:
        with lock:
            runs[n] += 1
            if sum(runs.values()) >= total:
                all_ran.set()

    app.task("fed-stop", record, concurrency=SLOTS)
    app.adapter.enqueue_many([EnqueueRequest("fed-stop", f"job-{i}", str(i).encode()) for i in range(total)])
    for _ in range(5):  # start and stop while jobs flow: claimed-but-unstarted jobs go back to the queue
        app.start()
        app.close(timeout=30)
        counts = app.adapter.counts("fed-stop")
        assert counts["active"] == 0, counts
        assert counts["waiting"] + sum(runs.values()) == total, counts
    app.start()
    assert all_ran.wait(60), f"{sum(runs.values())} of {total} ran"
    app.close(timeout=30)
    assert set(runs.values()) == {1} and len(runs) == total


def test_bursts_after_quiet_spells_run_every_job_once(make_app: Callable[..., Taskora]) -> None:
    # Idle, one slot keeps the watch and runs what it claims; a burst hands claiming back to the
    # feeder; quiet again, the watch resumes. Every switch must keep every job running exactly once.
    app = make_app(retention=KEEP_EVERY_RESULT)
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def record(n: int) -> int:
        with lock:
            runs[n] += 1
        return n

    task = app.task("fed-bursts", record, concurrency=SLOTS)
    app.start()
    n = 0
    for _round in range(4):
        assert task.dispatch(n).result(timeout=5) == n  # alone: claimed by the watching slot
        burst = task.dispatch_many(list(range(n + 1, n + 301)))
        assert [h.result(timeout=60) for h in burst] == list(range(n + 1, n + 301))
        n += 301
    assert set(runs.values()) == {1} and len(runs) == n


def test_jobs_that_block_run_on_every_slot_at_once_also_after_short_ones(make_app: Callable[..., Taskora]) -> None:
    """A batch handed out wakes one slot, and a slot taking a job wakes another only while takes are slow
    (feeder.py, ``_wake``), so short jobs run on the few threads awake. Jobs that block must still run on every slot
    at once, also right after short ones: the threads awake then take the first blocking jobs and no slot takes
    the rest, so the feeder wakes the sleeping slots for them (``_wait_for_work``). Each blocking job waits at a
    barrier of all the slots; a job left in line breaks it, and the jobs fail. Every result is kept: the short jobs'
    are read after the blocking ones', and default retention may have trimmed the first of 300 by then."""
    app = make_app(retention=KEEP_EVERY_RESULT)
    barrier = threading.Barrier(SLOTS, timeout=10)

    def run(n: int) -> int:
        if n >= 0:
            barrier.wait()
        return n

    task = app.task("fed-blocking", run, concurrency=SLOTS)
    app.start()
    for _round in range(3):
        short = task.dispatch_many([-1] * 300)
        blocking = task.dispatch_many(list(range(SLOTS)))
        assert [h.result(timeout=30) for h in blocking] == list(range(SLOTS))
        assert all(h.result(timeout=5) == -1 for h in short)


def _slots_on_the_marker(client: redis.Redis) -> int:
    return sum(1 for c in client.client_list() if c.get("cmd") == "bzpopmin")


def test_jobs_one_at_a_time_run_on_the_watching_slots_and_wake_no_other(make_app: Callable[..., Taskora]) -> None:
    # A slot that takes a job off a full watch leaves its place open and takes it again once back, so a job
    # arriving at an idle group wakes no sleeping slot beside its start: one job at a time runs on the WATCHERS
    # slots that keep the watch. (When each take woke a sleeping slot for its place, the jobs went round every slot
    # of the group.) A loaded machine may dispatch the next job before the last slot is back on the watch, and a
    # slot is then woken for the place (9 threads once, in a run beside other tests), so each job here waits until
    # the watch is whole again: what is measured is the wake a take makes, not the machine's speed.
    app = make_app()
    threads: set[str] = set()
    task = app.task("fed-paced", lambda n: threads.add(threading.current_thread().name) or n, concurrency=SLOTS)
    feeder = app.start()._feeder_of["fed-paced"]
    for n in range(3 * SLOTS):
        wait_until(lambda: feeder._watching == WATCHERS, what=f"{WATCHERS} slots back on the watch")
        assert task.dispatch(n).result(timeout=5) == n
    assert 1 <= len(threads) <= SLOTS // 2, sorted(threads)


@pytest.mark.parametrize("adapter_kind", ["redis"])
def test_an_idle_fed_group_keeps_several_slots_on_the_watch(make_app: Callable[..., Taskora], redis_url: str) -> None:
    # While one watching slot runs the job it claimed, another is already blocked on the marker: the next
    # arrival is claimed by that slot itself instead of being reported as a burst and handed over by the
    # feeder. Checked through Redis: the clients blocked on the marker, after every job.
    app = make_app()
    task = app.task("fed-watchers", lambda n: n, concurrency=SLOTS)
    client = redis.Redis.from_url(redis_url)
    app.start()
    for n in range(5):
        wait_until(lambda: _slots_on_the_marker(client) == WATCHERS, what=f"{WATCHERS} watchers")
        assert task.dispatch(n).result(timeout=5) == n
    client.close()


def test_a_fed_slot_in_the_permit_line_leaves_it_once_the_bound_has_room(app: Taskora) -> None:
    """The feeder found no room (the only permit held by a long job, the bound full of a claim out for a moment)
    and sent a slot to wait in line for a permit. Once that claim's room is back, the slot leaves the line and the
    feeder claims the job that came meanwhile, to wait reserved. Before, it stayed unclaimed until the permit."""
    from taskora.worker.loop import Worker

    task = app.task("fed-in-line", lambda d: None)
    worker = Worker(app, [task], concurrency=SLOTS, max_running=1)
    budget, room = worker.budget, worker.ahead.prefetch
    assert budget is not None
    room.bound = 1
    running = budget.try_acquire()  # a long job of another task holds the only permit
    room.ahead = 1  # a claim ahead of another slot is out: the bound is full for now
    worker.start()
    try:
        wait_until(lambda: budget.waiting() == 1, what="a fed slot waiting in line for a permit")
        handle = task.dispatch({})
        room.give(1)  # that claim brought nothing: its room is back
        wait_until(lambda: app.adapter.get_fields("fed-in-line", handle.id, ["state"])["state"] == "active",
                   what="the job claimed to wait reserved, the permit still held")
        assert list(worker.held.reserved) == [handle.id]
        assert running is not None
        running.release()
        assert handle.result(timeout=10) is None  # and it runs with the permit once the long job is done
    finally:
        worker.stop(10)
