"""The running budget (taskora/worker/budget.py), in process on both engines: first come, first served
permits; a claimed job waiting for one is reserved (kept locked, cancellable, handed back uncharged by a
stop), and the wait counts toward no timeout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from taskora import CancelledError, Taskora
from taskora.errors import ConfigurationError
from taskora.worker.budget import Permit, RunBudget, budget_size, check_max_running
from taskora.worker.loop import Worker
from tests.waiting import wait_until


def test_permits_go_out_in_the_order_they_were_asked_for() -> None:
    budget = RunBudget(1)
    first = budget.acquire(lambda: False)
    assert first is not None
    order: list[int] = []
    threads = []
    for n in range(4):  # each waiter queued before the next one asks
        def wait(n: int = n) -> None:
            permit = budget.acquire(lambda: False)
            assert permit is not None
            order.append(n)
            permit.release()

        threads.append(threading.Thread(target=wait))
        threads[-1].start()
        wait_until(lambda n=n: budget.waiting() == n + 1, 5, f"waiter {n} to queue")
    first.release()
    first.release()  # a permit is released once; a second call does nothing
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3]
    assert budget.running == 0


@pytest.mark.parametrize("behind", [0, 1])
def test_a_waiter_gives_up_when_woken_and_the_next_in_line_goes(behind: int) -> None:
    """``behind``: waiters in line before the quitter (none: a release would wake it; one: only ``wake`` does)."""
    budget = RunBudget(1)
    held = budget.acquire(lambda: False)
    assert held is not None
    stop = threading.Event()
    results: dict[str, object] = {}
    ahead = [threading.Thread(target=lambda: results.setdefault("ahead", budget.acquire(lambda: False)))][:behind]
    quitter = threading.Thread(target=lambda: results.setdefault("quitter", budget.acquire(stop.is_set)))
    for n, thread in enumerate([*ahead, quitter]):
        thread.start()
        wait_until(lambda n=n: budget.waiting() == n + 1, 5, f"waiter {n} to queue")
    stop.set()
    budget.wake()
    quitter.join(5)
    assert results["quitter"] is None and budget.waiting() == behind
    held.release()
    for thread in ahead:
        thread.join(5)
        assert isinstance(results["ahead"], Permit)
    if not behind:
        assert budget.acquire(lambda: False) is not None


def test_a_permit_coming_free_wakes_only_the_first_in_line() -> None:
    """Each waiter checks ``give_up`` as it queues and once more when its turn comes, never in between: with one
    condition for all, every release woke every waiter (a prefork child serving six tasks paid ~17 thread
    switches per job for it). Each waiter holds its permit until told to let go, so the others have been woken
    (were they to be) before it does."""
    budget = RunBudget(1)
    first = budget.acquire(lambda: False)
    assert first is not None
    looks = [0, 0, 0]
    holding = [threading.Event() for _ in looks]
    let_go = [threading.Event() for _ in looks]
    threads = []
    for n in range(3):
        def wait(n: int = n) -> None:
            def give_up() -> bool:
                looks[n] += 1
                return False

            permit = budget.acquire(give_up)
            assert permit is not None
            holding[n].set()
            let_go[n].wait(5)
            permit.release()

        threads.append(threading.Thread(target=wait))
        threads[-1].start()
        wait_until(lambda n=n: budget.waiting() == n + 1, 5, f"waiter {n} to queue")
    first.release()
    for n in range(3):
        assert holding[n].wait(5), f"waiter {n} never got its permit"
        let_go[n].set()
    for thread in threads:
        thread.join(5)
    assert looks == [2, 2, 2]
    assert budget.running == 0 and budget.waiting() == 0


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_a_bad_budget_size_is_refused_naming_it(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="max_running"):
        check_max_running(bad)


def test_who_gets_which_budget() -> None:
    class Celeryish:
        worker_concurrency_scope = "process"

    native, celery = object(), Celeryish()
    assert budget_size(native, "threads", 4, None) is None  # native: per-task slots, unchanged
    assert budget_size(native, "solo", 4, None) == 1
    assert budget_size(native, "prefork", 4, 3) == 3
    assert budget_size(celery, "threads", 4, None) == 4
    assert budget_size(celery, "prefork", 4, None) == 1  # per child
    assert budget_size(celery, "asyncio", 4, 2) == 2


@dataclass
class OneReserved:
    """A one-job budget held by task ``a`` (running until ``release``) while ``b``'s job ``handle`` waits for it,
    reserved; ``ran`` lists what ``b`` ran."""

    worker: Worker
    handle: Any
    release: threading.Event
    ran: list[Any]


@contextmanager
def one_reserved(app: Taskora, b_task: dict[str, Any] | None = None, **b_dispatch: Any) -> Iterator[OneReserved]:
    started, release, ran = threading.Event(), threading.Event(), []
    a = app.task("a", lambda _: (started.set(), release.wait(20)), stall={"interval": 0.6})
    b = app.task("b", lambda data: ran.append(data) or data, stall={"interval": 0.6}, **(b_task or {}))
    worker = Worker(app, [a, b], concurrency=1, max_running=1)
    worker.start()
    try:
        a.dispatch(None)
        assert started.wait(10)
        handle = b.dispatch("b1", **b_dispatch)
        wait_until(lambda: _reserved_here(worker, handle.id), 10, "b1 to be reserved")
        yield OneReserved(worker, handle, release, ran)
    finally:
        release.set()
        worker.stop(timeout=10)


def _reserved_here(worker: Worker, job_id: str) -> bool:
    with worker.held.lock:
        return job_id in worker.held.reserved


def test_a_reserved_job_keeps_its_lock_and_runs_once_when_the_budget_frees(app: Taskora) -> None:
    with one_reserved(app, {"timeout": 0.5}) as r:
        threading.Event().wait(1.5)  # time itself: past two lock leases and b's own timeout, waiting for the budget
        assert r.ran == [] and _reserved_here(r.worker, r.handle.id)
        r.release.set()
        assert r.handle.result(timeout=10) == "b1"  # its 0.5 s timeout counted from its start, not its claim
        fields = app.adapter.get_fields("b", r.handle.id, ["attempt", "lostCount"])
        assert fields["attempt"] == "1" and fields["lostCount"] in (None, "0")


def test_cancelling_a_reserved_job_cancels_it_before_it_starts(app: Taskora) -> None:
    with one_reserved(app) as r:
        r.handle.cancel(reason="revoked")
        with pytest.raises(CancelledError):
            r.handle.result(timeout=10)  # at once: a is still running
        assert not r.release.is_set() and r.ran == []


@pytest.mark.parametrize("cold", [False, True])
def test_a_stop_hands_a_reserved_job_back_uncharged(app: Taskora, cold: bool) -> None:
    with one_reserved(app) as r:
        stopper = threading.Thread(target=lambda: r.worker.stop(timeout=0 if cold else 10, cold=cold))
        stopper.start()
        try:
            wait_until(lambda: r.handle.state() == "waiting", 10, "b1 to be handed back")
            assert r.ran == [] and app.adapter.get_fields("b", r.handle.id, ["attempt"])["attempt"] == "1"
        finally:
            r.release.set()
            stopper.join(10)


def test_a_reserved_job_whose_ttl_passes_while_it_waits_expires_and_never_runs(app: Taskora) -> None:
    with one_reserved(app, ttl="300ms") as r:
        threading.Event().wait(0.5)  # time itself: past b1's ttl, still waiting for the budget
        r.release.set()
        wait_until(lambda: r.handle.state() == "expired", 10, "b1 to expire")
        assert r.ran == []


def test_a_celery_threads_pool_resizes_its_budget_with_the_pool(app: Taskora) -> None:
    from taskora.worker.pools import ThreadPool, WorkerSettings

    app.worker_concurrency_scope = "process"  # what the Celery front sets on the native app it wraps
    task = app.task("t", lambda data: data)
    pool = ThreadPool(WorkerSettings(app=app, tasks=[task], hostname="budget@test", concurrency=2))
    pool.start()
    try:
        assert pool.worker is not None and pool.worker.budget is not None
        assert pool.worker.budget.limit == 2 and pool.stats()["max_running"] == 2
        assert pool.grow(1) == 3 and pool.worker.budget.limit == 3
        assert pool.shrink(2) == 1 and pool.worker.budget.limit == 1
        assert task.dispatch(7).result(timeout=10) == 7
    finally:
        pool.request_stop(cold=False)
        pool.wait(10)


@dataclass
class ARunning:
    worker: Worker
    b: Any
    c: Any
    release: threading.Event
    ran: list[Any]


@contextmanager
def a_running(app: Taskora, bound: int | None = None) -> Iterator[ARunning]:
    """A one-permit worker of tasks a, b and c (prefetch ``bound``), a's job running until ``release`` is set."""
    started, release, ran = threading.Event(), threading.Event(), []
    a = app.task("a", lambda _: (started.set(), release.wait(20)), stall={"interval": 0.6})
    b = app.task("b", lambda data: ran.append(data) or data, stall={"interval": 0.6})
    c = app.task("c", lambda data: ran.append(data) or data, stall={"interval": 0.6})
    worker = Worker(app, [a, b, c], concurrency=1, max_running=1)
    assert worker.budget is not None
    worker.ahead.prefetch.bound = bound
    worker.start()
    try:
        a.dispatch(None)
        assert started.wait(10)
        yield ARunning(worker, b, c, release, ran)
    finally:
        release.set()
        worker.stop(timeout=10)


def test_past_the_prefetch_bound_a_claimed_job_goes_back_to_its_queue_and_runs_in_turn(app: Taskora) -> None:
    with a_running(app, bound=1) as r:  # -c 1 x worker_prefetch_multiplier 1
        worker = r.worker
        assert worker.budget is not None
        held_b = r.b.dispatch("b1")
        wait_until(lambda: _reserved_here(worker, held_b.id), 10, "b1 to be reserved")
        turned_back = r.c.dispatch("c1")
        # c's slot claimed c1, found the bound reached, handed it back, and now waits in line holding nothing
        wait_until(lambda: worker.budget.waiting() == 2 and turned_back.state() == "waiting", 10, "c1 to go back")
        assert list(worker.held.reserved) == [held_b.id]
        r.release.set()
        assert (held_b.result(timeout=10), turned_back.result(timeout=10)) == ("b1", "c1")
        assert r.ran == ["b1", "c1"]  # first come, first served
        assert app.adapter.get_fields("c", turned_back.id, ["attempt"])["attempt"] == "1"  # not charged


def test_a_reserved_job_whose_lock_is_lost_leaves_the_line_at_once(app: Taskora) -> None:
    """Behind another waiter, with a job still running: it is not woken by a permit coming free, so the heartbeat
    that finds its lock lost wakes the line (stall recovery returns the job; it never runs here)."""
    extend_locks = app.adapter.extend_locks
    lost: set[str] = set()

    def losing(jobs: list[Any], ttl: int) -> list[str]:
        statuses = extend_locks(jobs, ttl)
        return ["lost" if job.id in lost else status for job, status in zip(jobs, statuses, strict=True)]

    app.adapter.extend_locks = losing  # type: ignore[method-assign]
    with a_running(app) as r:
        worker = r.worker
        assert worker.budget is not None
        first = r.b.dispatch("b1")
        wait_until(lambda: _reserved_here(worker, first.id), 10, "b1 to be reserved")
        behind = r.c.dispatch("c1")
        wait_until(lambda: _reserved_here(worker, behind.id) and worker.budget.waiting() == 2, 10, "c1 in line")
        lost.add(behind.id)
        wait_until(lambda: worker.budget.waiting() == 1, 10, "c1 to leave the line while a still runs")
        assert not r.release.is_set() and not _reserved_here(worker, behind.id)
        r.release.set()
        assert first.result(timeout=10) == "b1" and r.ran == ["b1"]
