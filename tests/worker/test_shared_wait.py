"""Idle slots sharing one wait (taskora/worker/shared_wait.py), on both engines: a worker process with
``SHARED_FROM_SLOTS`` slots of their own or more blocks on Redis once for all of them, not once each. These pin
what the slots keep from waiting on their own: every task's job is picked up, a stop and a shrink end the waits at
once, a delayed job starts when due, and a wake for a task whose slots are all busy goes to another worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from taskora import Taskora
from taskora.adapters.base import ClaimResult
from taskora.errors import ConfigurationError
from taskora.worker.feeder import FEEDER_MIN_SLOTS, WATCHERS
from taskora.worker.idle import MAX_BLOCK_S
from taskora.worker.loop import Worker
from taskora.worker.shared_wait import FROM_VARIABLE, SHARED_FROM_SLOTS, SharedWait, idle_waits
from tests.waiting import wait_until

#: More tasks than it takes to share (one slot each).
TASKS = SHARED_FROM_SLOTS + 4


def _waiting(shared: SharedWait) -> int:
    """How many slots wait in ``shared`` now."""
    with shared._lock:
        return sum(len(waiting) for waiting in shared._waiting.values())


@contextmanager
def many_tasks(app: Taskora, handler: Callable[[Any], Any] = lambda data: data,
               **worker: Any) -> Iterator[tuple[Worker, SharedWait, list[Any]]]:  # fmt: skip
    """A one-slot-per-task worker of ``TASKS`` tasks, every slot waiting in the shared wait."""
    tasks = [app.task(f"t{i}", handler) for i in range(TASKS)]
    running = Worker(app, tasks, concurrency=1, **worker)
    running.start()
    try:
        shared = running._shared_wait
        assert shared is not None, "a worker of this many slots shares their wait"
        wait_until(lambda: _waiting(shared) == TASKS, 10, "every slot to wait")
        yield running, shared, tasks
    finally:
        running.stop(timeout=10)


def _first_held(started: threading.Event, release: threading.Event) -> Callable[[Any], Any]:
    """A handler holding the job "first" until ``release`` is set (``started``: it runs); it returns the rest."""
    def handler(data: Any) -> Any:
        if data == "first":
            started.set()
            release.wait(20)
        return data

    return handler


def test_fewer_slots_wait_on_their_own(app: Taskora) -> None:
    tasks = [app.task(f"few{i}", lambda data: data) for i in range(3)]
    running = Worker(app, tasks, concurrency=SHARED_FROM_SLOTS // 3 - 1)
    running.start()
    try:
        assert running._shared_wait is None
        assert tasks[0].dispatch(1).result(timeout=10) == 1
    finally:
        running.stop(timeout=10)


@pytest.mark.parametrize(("setting", "shared"), [("0", False), ("3", True)])
def test_the_threshold_moves_with_the_environment(app: Taskora, monkeypatch: pytest.MonkeyPatch, setting: str,
                                                  shared: bool) -> None:  # fmt: skip
    monkeypatch.setenv(FROM_VARIABLE, setting)
    tasks = [app.task(f"few{i}", lambda data: data) for i in range(3)]
    running = Worker(app, tasks, concurrency=1)
    running.start()
    try:
        assert (running._shared_wait is not None) is shared
        assert [task.dispatch(i).result(timeout=10) for i, task in enumerate(tasks)] == [0, 1, 2]
    finally:
        running.stop(timeout=10)


def test_a_bad_threshold_is_refused_naming_the_variable(app: Taskora, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FROM_VARIABLE, "lots")
    with pytest.raises(ConfigurationError, match=f"{FROM_VARIABLE} must be a whole number.*'lots'"):
        Worker(app, [app.task("one", lambda data: data)], concurrency=1)


def test_every_tasks_job_is_picked_up_from_the_shared_wait(app: Taskora) -> None:
    with many_tasks(app) as (_worker, shared, tasks):
        handles = [task.dispatch(i) for i, task in enumerate(tasks)]
        assert [handle.result(timeout=10) for handle in handles] == list(range(TASKS))
        wait_until(lambda: _waiting(shared) == TASKS, 10, "every slot back in the wait")
        again = [task.dispatch(-i) for i, task in enumerate(tasks[:3])]  # the watch still covers their tasks
        assert [handle.result(timeout=10) for handle in again] == [0, -1, -2]


def test_a_stop_ends_the_shared_waits_at_once(app: Taskora) -> None:
    with many_tasks(app) as (running, _shared, _tasks):
        began = time.monotonic()
        assert running.stop(timeout=MAX_BLOCK_S + 1)
        assert time.monotonic() - began < MAX_BLOCK_S / 2


def test_a_shrink_wakes_the_waiting_slots_that_leave(app: Taskora) -> None:
    with many_tasks(app) as (running, shared, tasks):
        running.grow(1)
        wait_until(lambda: _waiting(shared) == 2 * TASKS, 10, "the new slots to wait too")
        began = time.monotonic()
        running.shrink(1)
        wait_until(lambda: _waiting(shared) == TASKS, MAX_BLOCK_S / 2, "one slot of each task to leave")
        assert time.monotonic() - began < MAX_BLOCK_S / 2
        assert tasks[-1].dispatch("still").result(timeout=10) == "still"


def test_a_delayed_job_starts_when_due_under_the_shared_wait(app: Taskora) -> None:
    with many_tasks(app) as (_worker, _shared, tasks):
        sent = time.monotonic()
        handle = tasks[5].dispatch("later", delay=0.4)
        assert handle.result(timeout=MAX_BLOCK_S + 5) == "later"
        assert 0.4 <= time.monotonic() - sent < MAX_BLOCK_S  # woken when due, not after a whole block


@pytest.mark.no_cluster
def test_a_wake_for_a_task_whose_slots_are_busy_goes_to_another_worker(make_app: Callable[..., Taskora]) -> None:
    """The watch keeps watching a task after its last waiting slot went to a job; a wake it then pops finds no slot
    waiting and goes back to the marker, where another worker's idle slot takes it. Kept, the second job would
    wait for the first to end."""
    first_app, second_app = make_app(), make_app()
    started, release = threading.Event(), threading.Event()
    slow = _first_held(started, release)

    with many_tasks(first_app, slow) as (_worker, _shared, tasks):
        first = tasks[0].dispatch("first")
        assert started.wait(10)
        other = Worker(second_app, [second_app.task("t0", slow)], concurrency=1)
        other.start()
        try:
            second = tasks[0].dispatch("second")
            assert second.result(timeout=MAX_BLOCK_S / 2) == "second"  # the first job still runs
            assert not release.is_set()
        finally:
            release.set()
            other.stop(timeout=10)
        assert first.result(timeout=10) == "first"


def test_a_wake_given_back_is_not_taken_again_until_a_slot_of_its_task_waits(app: Taskora) -> None:
    """Alone, the worker's watch gives a busy task's wake back once, and stops watching the task: still watched, it
    would pop the wake it gave back at once, and again, as long as the task's slot is busy."""
    started, release = threading.Event(), threading.Event()
    slow = _first_held(started, release)

    given_back: list[str] = []
    wake_workers = app.adapter.wake_workers

    def counting(task: str, count: int, worker: str | None = None) -> None:
        if worker is None:
            given_back.append(task)
        wake_workers(task, count, worker)

    app.adapter.wake_workers = counting  # type: ignore[method-assign]
    with many_tasks(app, slow) as (_worker, _shared, tasks):
        first = tasks[0].dispatch("first")
        assert started.wait(10)
        second = tasks[0].dispatch("second")
        threading.Event().wait(0.5)  # time itself: a watch taking its own wake back would have done so many times
        assert given_back.count("t0") <= 1
        release.set()
        assert (first.result(timeout=10), second.result(timeout=10)) == ("first", "second")


def test_a_feeders_group_counts_its_watchers_toward_sharing() -> None:
    assert idle_waits([1] * 10) == 10
    assert idle_waits([FEEDER_MIN_SLOTS - 1, FEEDER_MIN_SLOTS, 100]) == FEEDER_MIN_SLOTS - 1 + 2 * WATCHERS


#: Tasks of 8 slots (a feeder each) it takes to share: two watchers each.
FED_TASKS = SHARED_FROM_SLOTS // WATCHERS + 1


@contextmanager
def fed_tasks(app: Taskora) -> Iterator[tuple[SharedWait, list[Any]]]:
    """A worker of ``FED_TASKS`` tasks of ``FEEDER_MIN_SLOTS`` slots, two watchers of each in the shared wait."""
    tasks = [app.task(f"fed{i}", lambda data: data) for i in range(FED_TASKS)]
    running = Worker(app, tasks, concurrency=FEEDER_MIN_SLOTS)
    running.start()
    try:
        shared = running._shared_wait
        assert shared is not None
        wait_until(lambda: _waiting(shared) == WATCHERS * FED_TASKS, 10, "the watchers of each task to wait")
        yield shared, tasks
    finally:
        running.stop(timeout=10)


def test_the_watchers_of_feeders_groups_share_the_wait(app: Taskora) -> None:
    """``-P threads -c 8`` over many tasks: each task's feeder keeps two slots on the watch, which blocked on a
    connection each (50 tasks held 112 blocked connections); they wait in the shared wait now."""
    with fed_tasks(app) as (shared, tasks):
        handles = [task.dispatch(i) for i, task in enumerate(tasks)]
        assert [handle.result(timeout=10) for handle in handles] == list(range(FED_TASKS))
        wait_until(lambda: _waiting(shared) == WATCHERS * FED_TASKS, 10, "the watch kept again")
        burst = [tasks[0].dispatch(-i) for i in range(50)]  # more than the watchers: the feeder takes over
        assert [handle.result(timeout=10) for handle in burst] == [-i for i in range(50)]


def test_a_fed_slot_hands_its_completion_to_the_feeder_while_slots_keep_the_watch(app: Taskora) -> None:
    """With the queue empty a fed slot acknowledged its job itself, on a connection of its own: a hundred slots of
    a task took a hundred at once in a burst (657 to 1,774 for 50 tasks at ``-P threads -c 100``). Sharing the
    wait, the feeder sends every completion, and slots hold none."""
    acked_alone: list[str] = []
    ack = app.adapter.ack

    def counting(job: Any, *args: Any, **kwargs: Any) -> Any:
        acked_alone.append(job.id)
        return ack(job, *args, **kwargs)

    app.adapter.ack = counting  # type: ignore[method-assign]
    with fed_tasks(app) as (_shared, tasks):
        assert [tasks[0].dispatch(i).result(timeout=10) for i in range(5)] == list(range(5))  # one at a time
        assert acked_alone == []


@contextmanager
def one_waiter(app: Taskora, claim: Callable[[], ClaimResult],
               timeout_s: float = MAX_BLOCK_S) -> Iterator[tuple[SharedWait, list[Any]]]:  # fmt: skip
    """A shared wait with its watch running and one slot of ``t0`` in it; the list gets what its ``wait`` returns."""
    app.adapter.connect()
    shared = SharedWait(app.adapter, "w-test", threading.Event(), "test")
    watch = threading.Thread(target=shared.run, daemon=True)
    watch.start()
    returned: list[Any] = []
    slot = threading.Thread(target=lambda: returned.append(shared.wait("t0", timeout_s, claim)), daemon=True)
    slot.start()
    try:
        wait_until(lambda: _waiting(shared) == 1, 10, "the slot to wait")
        yield shared, returned
    finally:
        shared.close()
        slot.join(10)
        watch.join(10)


def test_the_watch_claims_for_the_slot_it_wakes(app: Taskora) -> None:
    """The claim goes out as the marker's wake is popped, not after the slot's thread woke (0.2 ms on a threads
    pool); the slot gets the job it took."""
    task = app.task("t0", lambda data: data)
    with one_waiter(app, lambda: app.adapter.claim("t0", "token-1", 30_000)) as (_shared, returned):
        task.dispatch("x")
        wait_until(lambda: returned, 10, "the slot to be woken")
        job = returned[0].job
        assert job is not None and job.token == "token-1"
        assert app.adapter.nack("t0", job.id, job.token, unstarted=True)


def test_a_claim_made_for_a_slot_reaches_it_when_a_stop_comes_meanwhile(app: Taskora) -> None:
    """A stop waking the slot while the watch claims for it must not leave the claimed job with nobody: the slot
    waits for the claim's answer and hands the job back itself (as after a fused wait and claim)."""
    claimed, in_claim, go_on = ClaimResult(more=True), threading.Event(), threading.Event()

    def slow_claim() -> ClaimResult:
        in_claim.set()
        go_on.wait(10)
        return claimed

    with one_waiter(app, slow_claim) as (shared, returned):
        app.adapter.wake_workers("t0", 1)
        assert in_claim.wait(10)
        shared.wake()
        go_on.set()
        wait_until(lambda: returned, 10, "the slot to be woken")
        assert returned[0] is claimed


def test_a_claim_made_for_a_slot_reaches_it_when_its_wait_times_out_meanwhile(app: Taskora) -> None:
    claimed, left = ClaimResult(more=True), threading.Event()

    def claim_until_the_slot_timed_out() -> ClaimResult:
        left.wait(10)
        return claimed

    with one_waiter(app, claim_until_the_slot_timed_out, timeout_s=1.0) as (shared, returned):
        leave = shared._leave

        def leaving(task: str, waiter: Any) -> bool:
            taken = leave(task, waiter)
            left.set()
            return taken

        shared._leave = leaving  # type: ignore[method-assign]
        app.adapter.wake_workers("t0", 1)
        wait_until(lambda: returned, 10, "the slot to be answered")
        assert returned[0] is claimed


def test_a_claim_that_fails_for_a_slot_leaves_it_to_claim_itself(app: Taskora) -> None:
    def lost() -> ClaimResult:
        raise ConnectionError("gone")

    with one_waiter(app, lost) as (_shared, returned):
        app.adapter.wake_workers("t0", 1)
        wait_until(lambda: returned, 10, "the slot to be woken")
        assert returned == [None]
