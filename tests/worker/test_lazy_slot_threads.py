"""A process of many tasks starts each feeder's slot threads as jobs need them (taskora/worker/feeder.py,
``start_slot``), on both engines. Each task had a thread per slot from the start: 50 tasks at ``-P threads -c 100``
ran 5,668 threads. What a group of threads started at once guarantees must hold: a burst runs as many jobs at
once as the group has slots, a shrink leaves no more slots than asked, and threads idle too long leave again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from taskora import Taskora
from taskora.worker import feeder
from taskora.worker.feeder import FIRST_THREADS
from taskora.worker.loop import Worker
from taskora.worker.shared_wait import SHARED_FROM_SLOTS
from tests.waiting import wait_until

#: Slots per task: a feeder each. TASKS of them make a process that shares its idle slots' wait.
SLOTS = 24
TASKS = SHARED_FROM_SLOTS // feeder.WATCHERS + 1


class Gate:
    """A handler that holds every job until ``release``; ``running`` and ``most`` say how many ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.opened = threading.Event()
        self.running = self.most = 0

    def __call__(self, data: Any) -> Any:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.opened.wait(20)
        with self.lock:
            self.running -= 1
        return data


def _threads_of(task: str) -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith(f"taskora-slot-{task}-") and t.is_alive())


@contextmanager
def many_tasks(app: Taskora, gate: Gate) -> Iterator[tuple[Worker, list[Any]]]:
    tasks = [app.task(f"lazy{i}", gate) for i in range(TASKS)]
    worker = Worker(app, tasks, concurrency=SLOTS)
    worker.start()
    try:
        assert worker._shared_wait is not None, "a worker of this many tasks shares its idle slots' wait"
        yield worker, tasks
    finally:
        gate.opened.set()
        worker.stop(timeout=10)


def test_a_group_starts_a_few_threads_and_more_as_a_burst_needs_them(app: Taskora) -> None:
    gate = Gate()
    with many_tasks(app, gate) as (_worker, tasks):
        assert [_threads_of(task.name) for task in tasks] == [FIRST_THREADS] * TASKS
        burst = [tasks[0].dispatch(i) for i in range(SLOTS + 5)]
        wait_until(lambda: gate.running == SLOTS, 10, "a job on every slot of the task at once")
        assert _threads_of(tasks[0].name) == SLOTS and _threads_of(tasks[1].name) == FIRST_THREADS
        gate.opened.set()
        assert [handle.result(timeout=10) for handle in burst] == list(range(SLOTS + 5))
        assert gate.most == SLOTS


def test_threads_idle_too_long_leave_and_start_again_for_the_next_burst(app: Taskora,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeder, "IDLE_THREAD_SECONDS", 0.2)
    gate = Gate()
    with many_tasks(app, gate) as (_worker, tasks):
        for _round in range(2):
            gate.opened.clear()
            burst = [tasks[0].dispatch(i) for i in range(SLOTS)]
            wait_until(lambda: gate.running == SLOTS, 10, "a job on every slot of the task at once")
            gate.opened.set()
            assert [handle.result(timeout=10) for handle in burst] == list(range(SLOTS))
            wait_until(lambda: _threads_of(tasks[0].name) == FIRST_THREADS, 10, "the idle threads to leave")


def test_a_shrink_takes_the_slots_without_a_thread_first(app: Taskora) -> None:
    gate = Gate()
    with many_tasks(app, gate) as (worker, tasks):
        assert worker.shrink(SLOTS - 2) == 2
        wait_until(lambda: _threads_of(tasks[0].name) == 2, 10, "one started thread to leave")
        gate.opened.set()
        assert [handle.result(timeout=10) for handle in [tasks[0].dispatch(i) for i in range(20)]] == list(range(20))
        assert gate.most <= 2
        assert worker.grow(SLOTS - 2) == SLOTS
        gate.opened.clear()
        burst = [tasks[0].dispatch(i) for i in range(SLOTS)]
        wait_until(lambda: gate.running == SLOTS, 10, "a job on every slot of the grown task at once")
        gate.opened.set()
        assert [handle.result(timeout=10) for handle in burst] == list(range(SLOTS))


def test_a_thread_the_system_refuses_leaves_its_slot_for_later_and_loses_no_job(
        app: Taskora, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A container's process limit refuses the threads a burst needs: it is logged, naming the task, and the
    jobs run on the threads there are."""
    warnings: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("taskora.worker")  # its own handler: another test may have stopped propagation
    logger.addHandler(handler)
    gate = Gate()
    try:
        with many_tasks(app, gate) as (worker, tasks):
            def refused(task_name: str, feeder: Any) -> None:
                raise RuntimeError("can't start new thread")

            monkeypatch.setattr(worker, "_spawn_fed_slot", refused)
            burst = tasks[0].dispatch_many(list(range(SLOTS + 5)))
            wait_until(lambda: gate.running == FIRST_THREADS, 10, "a job on each thread there is")
            wait_until(lambda: any("could not start" in w for w in warnings), 10, "the refusal to be logged")
            assert _threads_of(tasks[0].name) == FIRST_THREADS
            gate.opened.set()
            assert [handle.result(timeout=10) for handle in burst] == list(range(SLOTS + 5))
            assert gate.most == FIRST_THREADS
    finally:
        logger.removeHandler(handler)
    refusal = next(w for w in warnings if "could not start" in w)
    assert tasks[0].name in refusal and "can't start new thread" in refusal, refusal
