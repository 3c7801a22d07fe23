"""Whatever goes wrong while a worker holds a job, the job ends in a final state naming the job and task,
never "active" (both engines, in-process workers)."""

from __future__ import annotations

import pytest

from taskora import JobFailedError, Taskora, chain
from taskora.worker.feeder import FEEDER_MIN_SLOTS
from taskora.worker.loop import Worker


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _raise_unprintable(_data: object) -> None:
    raise Unprintable("ignored")


@pytest.fixture(params=[1, FEEDER_MIN_SLOTS], ids=["own-slot", "fed-slots"])
def slots(request: pytest.FixtureRequest) -> int:
    return request.param


def _run(app: Taskora, task, slots: int) -> Worker:
    worker = Worker(app, [task], concurrency=slots)
    worker.start()
    return worker


def test_an_exception_whose_str_raises_fails_the_job(app: Taskora, slots: int) -> None:
    task = app.task("unprintable", _raise_unprintable)
    worker = _run(app, task, slots)
    try:
        with pytest.raises(JobFailedError) as failed:
            task.dispatch(None).result(timeout=10)
        assert failed.value.error == "<str() of this Unprintable raised RuntimeError: no text for you>"
    finally:
        worker.stop(timeout=10)


def test_a_job_with_an_unreadable_attempt_fails_as_malformed(app: Taskora, slots: int) -> None:
    task = app.task("plain", lambda n: n)
    handle = task.dispatch(1)
    app.adapter.client.hset(app.adapter.keys.job("plain", handle.id), "attempt", "abc")
    worker = _run(app, task, slots)
    try:
        with pytest.raises(JobFailedError) as failed:
            handle.result(timeout=10)
        assert failed.value.error == (f"plain job {handle.id} cannot be run: ValueError: invalid "
                                      "literal for int() with base 10: 'abc'")
        assert task.dispatch(2).result(timeout=10) == 2  # the slot carries on
    finally:
        worker.stop(timeout=10)


def test_a_bug_while_recording_an_outcome_fails_the_job_instead_of_leaving_it_active(app: Taskora) -> None:
    task = app.task("plain", lambda n: n)
    ack, broken = app.adapter.ack, []

    def buggy_ack(*args, **kwargs):  # the first completion hits a bug in the worker (not a connection error)
        if not broken:
            broken.append(True)
            raise KeyError("a bug")
        return ack(*args, **kwargs)

    app.adapter.ack = buggy_ack  # type: ignore[method-assign]
    worker = _run(app, task, 1)
    try:
        handle = task.dispatch(1)
        with pytest.raises(JobFailedError) as failed:
            handle.result(timeout=10)
        assert failed.value.error == (f"plain job {handle.id}: the worker failed handling it: "
                                      "KeyError: 'a bug'")
        assert task.dispatch(2).result(timeout=10) == 2
    finally:
        worker.stop(timeout=10)


def test_a_malformed_workflow_node_fails_its_workflow(app: Taskora) -> None:
    first, second = app.task("first", lambda n: n + 1), app.task("second", lambda n: n * 2)
    handle = chain(first.s(1), second.s()).dispatch()
    first_id = handle.job_ids()[0]
    app.adapter.client.hset(app.adapter.keys.job("first", first_id), "attempt", "abc")
    worker = _run(app, first, 1)
    try:
        with pytest.raises(JobFailedError, match="MalformedJobError"):
            handle.result(timeout=10)
    finally:
        worker.stop(timeout=10)
