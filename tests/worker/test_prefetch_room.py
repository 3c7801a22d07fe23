"""Claims ahead and the prefetch bound in an in-process worker (threads pool), on both engines: a native app
keeps claiming ahead without a bound, ``disable_prefetch`` turns claiming ahead off even without a running
budget, and a claim ahead is sent only when the bound has room for its job (prefetch_room.py)."""

from __future__ import annotations

from typing import Any

from taskora import Taskora
from taskora.worker.pools import ThreadPool, WorkerSettings
from taskora.worker.prefetch_room import PrefetchRoom
from tests.worker.test_lookahead import Reservations


class ClaimsSent(Reservations):
    """Also counts the claims the worker's slots sent ahead."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def claim_sent(self, task: str, token: str) -> None:
        self.sent += 1


def _run_pool(app: Taskora, tasks: list[Any], handles: list[Any], **settings: Any) -> ClaimsSent:
    """Serve ``tasks`` with a threads pool of ``settings`` until every handle's job is done; the hooks it recorded."""
    hooks = ClaimsSent()
    pool = ThreadPool(WorkerSettings(app=app, tasks=tasks, hostname="room@test", **settings), hooks=[hooks])
    pool.start()
    try:
        for handle in handles:
            handle.result(timeout=60)
    finally:
        pool.request_stop(cold=False)
        pool.wait(10)
    return hooks


def _drain(app: Taskora, max_running: int | None = None, **extra: Any) -> ClaimsSent:
    """300 no-op jobs through a one-slot threads pool started with the command line's ``extra`` options (and a
    running budget of ``max_running``, as a Celery app's worker has)."""
    runs: list[int] = []
    task = app.task("short", lambda d: runs.append(d["i"]))
    hooks = _run_pool(app, [task], task.dispatch_many([{"i": i} for i in range(300)]), concurrency=1,
                      max_running=max_running, extra=extra)
    assert runs == list(range(300))
    assert app.adapter.counts("short")["active"] == 0
    return hooks


def test_a_native_app_without_a_bound_keeps_claiming_ahead(app: Taskora) -> None:
    hooks = _drain(app)
    assert hooks.sent > 150 and len(hooks.reserved) > 150, (hooks.sent, len(hooks.reserved))


def test_a_one_slot_worker_under_a_budget_of_one_claims_ahead_too(app: Taskora) -> None:
    """A Celery ``-P solo`` worker: one slot, a running budget of one, room for four. The job a slot's finish
    claims gets the one permit with that claim, so the claim sent ahead as it starts must take no second one.
    Before, it asked for one, never got it, and the slot waited for every reply (the front's ``-P solo`` ran
    at half the speed of a ``-P prefork -c 1`` child)."""
    hooks = _drain(app, max_running=1, prefetch_multiplier=4)
    assert hooks.sent > 150 and len(hooks.reserved) > 150, (hooks.sent, len(hooks.reserved))


def test_disable_prefetch_turns_claiming_ahead_off_without_a_budget(app: Taskora) -> None:
    hooks = _drain(app, disable_prefetch=True)
    assert (hooks.sent, hooks.reserved) == (0, []), (hooks.sent, len(hooks.reserved))


def test_a_claim_ahead_takes_room_only_while_its_jobs_fit_and_gives_it_back() -> None:
    from taskora.worker.held import HeldJobs

    held = HeldJobs()
    room = PrefetchRoom(held)
    assert room.take(8) == (0, None)  # no bound: nothing counted, never refused
    room.bound = 2
    assert room.take(1) == (1, None) and room.ahead == 1
    held.reserved["a"] = object()  # type: ignore[assignment]
    assert room.full() and room.take(1) is None  # one reserved + one on its way: the bound is reached
    assert room.take(1, starting=1) == (1, None)  # ... unless the reserved one starts now
    room.give(1)
    room.give(1)
    assert room.ahead == 0 and not room.full()
    room.bound = 0
    assert room.take(1, starting=1) is None  # prefetch disabled: no claim ahead at all


def test_a_batch_claims_what_the_bound_has_room_for() -> None:
    from taskora.worker.held import HeldJobs

    held = HeldJobs()
    room = PrefetchRoom(held)
    assert room.room_ahead(8, starting=1) == 8 and room.batch_within(8) == 8  # no bound: a whole batch
    room.bound = 4  # a Celery child's share of -c 2 x worker_prefetch_multiplier 4
    assert room.batch_within(8) == 5  # four reserved and the one it runs
    held.reserved.update({"a": object(), "b": object()})  # type: ignore[dict-item]
    assert room.room_ahead(8, starting=1) == 3  # "a" starts now: three more fit beside "b"
    assert room.take(3, starting=1) == (3, None) and room.room_ahead(8, starting=1) == 0
    room.give(3)
    room.bound = 0
    assert room.room_ahead(8, starting=1) == 0 and room.batch_within(8) == 1


def test_a_batch_claimed_by_a_slot_holding_nothing_counts_its_waiting_jobs_until_read() -> None:
    """Two slots of a prefork child finishing together each claim a batch holding nothing: the second must see
    the room the first's request takes, or both claim the whole bound and one's jobs are held past it."""
    from taskora.worker.held import HeldJobs

    held = HeldJobs()
    room = PrefetchRoom(held)
    assert room.take_fitting(8) == (8, 0, None)  # no bound: a whole batch, nothing counted
    room.bound = 1  # -c 1 x --prefetch-multiplier 1
    assert room.take_fitting(8) == (2, 1, None)  # one starts, one waits: the room it takes is counted at once
    assert room.take_fitting(8) == (1, 0, None)  # the other slot meanwhile: only the job it starts
    room.give(1)
    held.reserved["a"] = object()  # type: ignore[assignment]  # what the first request brought, read
    assert room.take_fitting(8) == (1, 0, None) and room.ahead == 0
    room.bound = 0
    del held.reserved["a"]
    assert room.take_fitting(8) == (1, 0, None)  # prefetch disabled: only the job that starts


def test_under_a_budget_a_batch_counts_a_job_to_start_only_with_a_permit_for_it() -> None:
    """A prefork child runs one job at a time: a batch claimed while another slot's job runs has no job that starts
    at once, so it claims only what the bound lets wait (before, one more, which the bound then turned back)."""
    from taskora.worker.budget import RunBudget
    from taskora.worker.held import HeldJobs

    held, budget = HeldJobs(), RunBudget(1)
    room = PrefetchRoom(held, budget)
    room.bound = 2
    claim, counted, permit = room.take_fitting(8)
    assert (claim, counted) == (3, 2) and permit is not None  # the permit was free: it goes with the first job
    room.give(counted)
    assert room.take_fitting(8)[:2] == (2, 2)  # its job runs: the next batch only waits, within the bound
    room.give(2)
    permit.release()


def test_a_slot_holding_nothing_claims_only_a_job_that_may_start_or_wait() -> None:
    from taskora.worker.budget import RunBudget
    from taskora.worker.held import HeldJobs

    held, budget = HeldJobs(), RunBudget(1)
    room = PrefetchRoom(held, budget)
    assert room.take_one() == (0, None)  # no bound: a job claimed now may always wait reserved
    room.bound = 1
    counted, permit = room.take_one()  # type: ignore[misc]
    assert counted == 0 and permit is not None  # a permit is free: the job starts with it
    assert room.take_one() == (1, None) and room.ahead == 1  # no permit: it waits, its room counted
    assert room.take_one() is None  # neither: the slot waits for a permit before it claims
    room.give(1)
    held.reserved["a"] = object()  # type: ignore[assignment]
    assert room.take_one() is None
    assert room.take_fitting(8) == (0, 0, None)  # a batch claims none either
    permit.release()
    assert PrefetchRoom(held).take_one() == (0, None)  # no budget: a claimed job starts at once


def test_slots_of_several_tasks_under_one_budget_hand_back_few_jobs(app: Taskora) -> None:
    """Six tasks, one job running at a time, at most one reserved (a Celery ``-c 1 --prefetch-multiplier 1``
    worker): each task's slot claims only jobs that can start or wait within the bound. Before, a slot claimed
    whenever its last job ended, and most jobs went back to their queue unstarted and were claimed again."""
    runs: list[int] = []
    tasks = [app.task(f"short{k}", lambda d: runs.append(d["i"])) for k in range(6)]
    handles = [tasks[i % 6].dispatch({"i": i}) for i in range(600)]
    hooks = _run_pool(app, tasks, handles, concurrency=1, max_running=1, extra={"prefetch_multiplier": 1})
    assert sorted(runs) == list(range(600))
    assert len(hooks.released) <= 6, len(hooks.released)  # 90-128 of 600 before


def test_a_slot_waiting_in_line_for_a_permit_claims_nothing_once_a_stop_came(app: Taskora) -> None:
    """A warm stop claims nothing more: a slot that was waiting for a permit to claim with (the budget busy, the
    bound full) must not claim when the stop ends its wait. Before, it went on to an ordinary claim."""
    from taskora.worker.lookahead import Lookahead
    from taskora.worker.loop import Worker

    task = app.task("waits", lambda d: None)
    task.dispatch({})
    worker = Worker(app, [task], concurrency=1, max_running=1)
    worker.ahead.prefetch.bound = 0  # --disable-prefetch
    assert worker.budget is not None
    running = worker.budget.try_acquire()  # another task's job holds the only permit
    worker._stopping.set()
    try:
        assert worker._claim_next(task, Lookahead()) is None
    finally:
        assert running is not None
        running.release()
    assert app.adapter.counts("waits")["waiting"] == 1  # still there for the next worker


def test_a_slot_in_line_because_of_claims_out_for_a_moment_claims_once_their_room_is_back(app: Taskora) -> None:
    """A slot holding nothing finds the bound full only of another slot's claim ahead, not read yet, and the only
    permit held by a long job: it waits in line. Once that claim's room is given back, it leaves the line and claims
    its task's job to wait reserved, as Celery prefetches. Before, it waited for the long job's permit: a prefork child
    starting up left a job waiting in its queue for the whole run of another (test_run_budget, the killed child)."""
    import threading

    from taskora.worker.lookahead import Lookahead
    from taskora.worker.loop import Worker
    from tests.waiting import wait_until

    task = app.task("waits", lambda d: None)
    handle = task.dispatch({})
    worker = Worker(app, [task], concurrency=1, max_running=1)
    worker.ahead.prefetch.bound = 1
    budget = worker.budget
    assert budget is not None
    running = budget.try_acquire()  # a long job of another task holds the only permit
    worker.ahead.prefetch.ahead = 1  # another slot's claim ahead is out: the bound is full for now
    claimed: list[Any] = []
    slot = threading.Thread(target=lambda: claimed.append(worker._claim_next(task, Lookahead())), daemon=True)
    slot.start()
    try:
        wait_until(lambda: budget.waiting() == 1, 10, "the slot to wait in line for a permit")
        worker.ahead.prefetch.give(1)  # that claim brought nothing: its room is back
        slot.join(10)
        assert claimed == [None]  # out of the line, without the permit: the slot's next turn claims
        job = worker._claim_next(task, Lookahead())
        assert job is not None and job.id == handle.id and worker.ahead.prefetch.ahead == 0
    finally:
        worker._stopping.set()
        budget.wake()
        assert running is not None
        running.release()
        slot.join(10)
