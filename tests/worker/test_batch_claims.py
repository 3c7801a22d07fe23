"""Batches (taskora/worker/batches.py), on both engines: ``ack_many_later`` and a worker whose slots claim
and complete several jobs per call. A prefork child turns batches on; here the process itself does, so
the slot's logic runs in-process (the crash-safety half is tests/worker/test_prefork_batches.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from taskora import Taskora
from taskora.adapters.redis import Completion, EnqueueRequest
from taskora.errors import JobFailedError
from taskora.worker import batches
from taskora.worker.loop import Worker
from tests.waiting import wait_until
from tests.worker.retention import KEEP_EVERY_RESULT


def test_ack_many_later_completes_and_claims_with_its_reply_read_later(app: Taskora) -> None:
    app.task("later", lambda d: d)
    app.adapter.enqueue_many([EnqueueRequest("later", f"job-{i}", b"null") for i in range(4)])
    first = app.adapter.claim("later", "t0", 30_000).job
    assert first is not None
    sent = app.adapter.ack_many_later("later", [Completion(first, b"1", True)], claim=8, token="t1",
                                      lock_ttl_ms=30_000)
    batch = sent.result()
    assert batch.statuses == ["ok"]
    assert [job.id for job in batch.jobs] == ["job-1", "job-2", "job-3"]  # FIFO, fewer than asked
    assert {job.token for job in batch.jobs} == {"t1"}
    assert app.adapter.get_job("later", first.id)["state"] == "completed"  # type: ignore[index]


def test_a_batch_claim_replies_each_job_as_started(app: Taskora) -> None:
    """Each claimed job comes back as the claim left its hash: the engine reads a job once, before the claim
    writes it, and its reply must still say ``active`` and when it started."""
    app.task("started", lambda d: d)
    app.adapter.enqueue_many([EnqueueRequest("started", f"job-{i}", b"null", fields={"custom": f"v{i}"})
                              for i in range(3)])
    batch = app.adapter.ack_many("started", [], claim=3, token="t1", lock_ttl_ms=30_000)
    assert [job.id for job in batch.jobs] == ["job-0", "job-1", "job-2"]
    for job in batch.jobs:
        stored = app.adapter.get_job("started", job.id)
        assert stored is not None and stored["state"] == "active" and stored.get("processedOn")
        assert {name: job.fields[name] for name in stored} == stored  # the whole hash, nothing stale


def test_a_claim_counts_a_priority_job_it_put_back_as_work_left(app: Taskora) -> None:
    """A job held aside for its full concurrency key goes back to the priority queue during the claim that met
    it; a claim that then took another job must still report work left (its worker's next claim, the marker),
    although it saw the priority queue empty on its way."""
    app.task("keyed", lambda d: d)
    keyed = {"concurrencyKey": "k", "concurrencyLimit": "1"}
    app.adapter.enqueue_many([EnqueueRequest("keyed", "first", b"null", priority=5, fields=keyed)])
    first = app.adapter.claim("keyed", "t0", 30_000).job  # the key's one slot is taken
    assert first is not None
    app.adapter.enqueue_many([EnqueueRequest("keyed", "second", b"null", priority=5, fields=keyed),
                              EnqueueRequest("keyed", "plain", b"null")])
    claimed = app.adapter.claim("keyed", "t1", 30_000)
    assert claimed.job is not None and claimed.job.id == "plain" and claimed.more
    done = app.adapter.ack_many("keyed", [Completion(first, b"null", True)], claim=3, token="t2", lock_ttl_ms=30_000)
    assert done.statuses == ["ok"] and [job.id for job in done.jobs] == ["second"]


def test_a_batch_of_hundreds_of_completions_settles_each_job_once(app: Taskora) -> None:
    """A feeder's batch can carry every completion of a hundred slots: each job must end as a lone completion
    would leave it (kept or deleted, unlocked, its concurrency slot freed), and a job named twice completes once."""
    app.task("bulk", lambda d: d)
    keyed = {"concurrencyKey": "k", "concurrencyLimit": "1000"}
    app.adapter.enqueue_many([EnqueueRequest("bulk", f"job-{i}", b"null", fields=keyed) for i in range(301)])
    held = app.adapter.ack_many("bulk", [], claim=301, token="t1", lock_ttl_ms=30_000).jobs
    assert len(held) == 301
    done = [Completion(job, b'"r"', keep=i % 2 == 0) for i, job in enumerate(held)]
    batch = app.adapter.ack_many("bulk", [*done, done[0]], claim=0, token="", lock_ttl_ms=30_000)

    assert batch.statuses == ["ok"] * 301 + ["lost"]
    assert app.adapter.counts("bulk")["completed"] == 151 and app.adapter.counts("bulk")["active"] == 0
    assert app.adapter.locks_of_active("bulk") == []
    assert app.adapter.get_job("bulk", "job-300")["result"] == b'"r"'  # type: ignore[index]
    assert app.adapter.get_job("bulk", "job-299") is None  # kept only when asked
    assert app.adapter.stall_sweep("bulk", 1) == ([], [])
    app.adapter.enqueue_many([EnqueueRequest("bulk", "after", b"null", fields={**keyed, "concurrencyLimit": "1"})])
    assert app.adapter.claim("bulk", "t2", 30_000).job is not None  # every slot of the key was freed


@pytest.fixture
def batching(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers made in this process work in batches (as a prefork child's)."""
    monkeypatch.setattr(batches, "_size_here", batches.BATCH_JOBS)


@pytest.mark.usefixtures("batching")
def test_a_batching_slot_runs_every_job_once_with_results(make_app: Callable[..., Taskora]) -> None:
    app = make_app(retention=KEEP_EVERY_RESULT)
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def record(n: int) -> int:
        with lock:
            runs[n] += 1
        return n * 2

    class Deferrals:
        """Counts completions a slot left to a later request of its batch."""

        count = 0

        def job_deferred(self, runtime: object, completion: Completion) -> None:
            Deferrals.count += 1

    task = app.task("batched", record, concurrency=1)
    app.start().job_hooks.append(Deferrals())
    handles = task.dispatch_many(list(range(300)))
    assert [h.result(timeout=60) for h in handles] == [n * 2 for n in range(300)]
    assert set(runs.values()) == {1} and len(runs) == 300
    assert Deferrals.count > 0  # the batch way was taken


class CountingEvent(threading.Event):
    """An event that counts the waits a ``set`` ended (each one a thread woken up)."""

    woken = 0

    def wait(self, timeout: float | None = None) -> bool:
        woken = super().wait(timeout)
        CountingEvent.woken += woken
        return woken


@pytest.mark.usefixtures("batching")
def test_the_batch_watch_sleeps_through_short_jobs(make_app: Callable[..., Taskora],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Each wake of the batch watch is a thread switch its busy slot pays for: jobs shorter than
    ``SEND_WAITING_AFTER_S`` wake it at most once per that wait, not once per job."""
    monkeypatch.setattr(batches, "threading", SimpleNamespace(Event=CountingEvent, Thread=threading.Thread))
    CountingEvent.woken = 0
    app = make_app()
    task = app.task("short", lambda n: None, concurrency=1)
    app.start()
    began = time.monotonic()
    handles = task.dispatch_many(list(range(400)))
    for handle in handles:
        handle.result(timeout=60)
    waits = (time.monotonic() - began) / batches.SEND_WAITING_AFTER_S
    assert CountingEvent.woken <= waits + 2  # before: a wake every few jobs, however short


@pytest.mark.usefixtures("batching")
def test_failures_in_a_batch_take_their_own_transitions(make_app: Callable[..., Taskora]) -> None:
    app = make_app()

    def odd_fails(n: int) -> int:
        if n % 2:
            raise ValueError(f"odd: {n}")
        return n

    task = app.task("half", odd_fails, concurrency=1)
    handles = task.dispatch_many(list(range(40)))
    app.start()
    for n, handle in enumerate(handles):
        if n % 2:
            with pytest.raises(JobFailedError, match=f"odd: {n}"):
                handle.result(timeout=30)
        else:
            assert handle.result(timeout=30) == n


class Requests:
    """Counts the requests that recorded completions and the most jobs held reserved at once (a job hook)."""

    def __init__(self) -> None:
        self.requests = 0
        self.reserved = 0
        self.most_reserved = 0

    def completions_recorded(self, job_ids: list[str]) -> None:
        self.requests += 1

    def job_reserved(self, job: object) -> None:
        self.reserved += 1
        self.most_reserved = max(self.most_reserved, self.reserved)

    def job_started(self, runtime: object) -> None:
        self.reserved = max(0, self.reserved - 1)


def _drain_under_prefetch_bound(app: Taskora, jobs: int = 600) -> Requests:
    """Run ``jobs`` no-op jobs on one batching slot under ``worker_prefetch_multiplier`` 4; its requests."""
    from taskora.worker.pools import ThreadPool, WorkerSettings

    ran: Counter[int] = Counter()
    all_ran = threading.Event()

    def count(d: dict[str, int]) -> None:
        ran[d["i"]] += 1
        if len(ran) == jobs:
            all_ran.set()

    task = app.task("bounded", count, keep_result=False)
    task.dispatch_many([{"i": i} for i in range(jobs)])
    hooks = Requests()
    settings = WorkerSettings(app=app, tasks=[task], hostname="bounded@test", concurrency=1,
                              extra={"prefetch_multiplier": 4})
    pool = ThreadPool(settings, hooks=[hooks])
    pool.start()
    try:
        assert all_ran.wait(60)
    finally:
        pool.request_stop(cold=False)
        pool.wait(10)
    assert set(ran.values()) == {1} and app.adapter.counts("bounded")["active"] == 0
    return hooks


@pytest.mark.usefixtures("batching")
def test_under_a_prefetch_bound_a_batch_claims_what_fits_and_is_sent_ahead(app: Taskora) -> None:
    """``worker_prefetch_multiplier`` 4: each batch claims the jobs the bound has room for, so a busy slot
    still completes about three jobs per request and never holds more than four reserved beside the one
    starting. Before, a batch asked for a whole batch (8), which never fit: every request went out at once and
    was waited for, one per job here (a prefork child under this bound used batches of 2: two jobs a request)."""
    hooks = _drain_under_prefetch_bound(app)
    assert hooks.most_reserved <= 5, hooks.most_reserved  # four reserved, and the first of a batch, which starts now
    assert 600 / hooks.requests >= 2.5, hooks.requests


@pytest.mark.usefixtures("batching")
def test_a_child_among_more_children_than_cpus_sends_its_batch_later(app: Taskora,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the same bound, a prefork child of a worker with more children than CPUs claims its next batch
    once one job is left rather than half the batch: the claim finds room for more jobs, so a request carries
    about four jobs instead of three, and the bound still holds."""
    monkeypatch.setattr(batches, "_crowded_here", True)
    hooks = _drain_under_prefetch_bound(app)
    assert hooks.most_reserved <= 5, hooks.most_reserved
    assert 600 / hooks.requests >= 3.5, hooks.requests


@pytest.mark.usefixtures("batching")
def test_a_batch_behind_a_slow_job_goes_back_to_the_front_in_its_order(app: Taskora) -> None:
    # Job 1 runs long with jobs 2..8 of its batch queued behind it: the batch watch hands them back to the
    # front of the queue, where the next claims find them in their order, ahead of the jobs never claimed.
    release, blocking = threading.Event(), threading.Event()

    def handler(data: dict[str, int]) -> None:
        if data["i"] == 1:
            blocking.set()
            release.wait(15)

    task = app.task("batch-order", handler)
    handles = task.dispatch_many([{"i": i} for i in range(20)])
    worker = Worker(app, [task], concurrency=1)
    worker.start()
    try:
        assert blocking.wait(10)
        wait_until(lambda: app.adapter.counts("batch-order")["active"] == 1, what="job 1's batch handed back")
        claimed = [app.adapter.claim("batch-order", f"next-{i}", 30_000).job for i in range(18)]
    finally:
        release.set()
        worker.stop(timeout=10)
    assert [job.id for job in claimed if job] == [handle.id for handle in handles[2:]]
