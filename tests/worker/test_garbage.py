"""A job's objects are freed as the job ends, not left to the cyclic garbage collector, and a worker process
keeps its start-up objects out of the collector's way (heap.py).

Why it matters: a reference cycle per job (a listener on the job's abort signal naming the job, a composed
middleware chain calling itself) made the collector run every few dozen jobs under load, and each run of its oldest
generation stopped every thread of the worker for 11-13 ms (bench/README.md, "Pauses for the garbage
collector").
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from taskora import Taskora
from taskora.worker.pools import ThreadPool, WorkerSettings

#: Unreachable objects allowed per job: none is made per job, but the test's own waiting may leave a few.
PER_JOB_ALLOWED = 0.2


def _garbage_after(app: Taskora, task: Any, jobs: int) -> int:
    """Unreachable objects left by running ``jobs`` jobs with the collector off (the worker already runs)."""
    task.dispatch(-1).result(timeout=10)  # first-call caches (scripts, encoders) are made before counting
    gc.collect()
    gc.disable()
    try:
        for i in range(jobs):
            task.dispatch(i).result(timeout=10)
        return gc.collect()
    finally:
        gc.enable()


def test_a_finished_job_leaves_no_reference_cycle(app: Taskora) -> None:
    task = app.task("plain", lambda n: n, keep_result=True)
    app.start()
    few, many = _garbage_after(app, task, 10), _garbage_after(app, task, 110)
    assert many - few <= 100 * PER_JOB_ALLOWED, f"{(many - few) / 100:.1f} unreachable objects per job"


def test_a_job_through_middleware_leaves_no_reference_cycle(app: Taskora) -> None:
    seen: list[int] = []

    def count(mctx: Any, call_next: Any) -> Any:
        seen.append(1)
        return call_next()

    app.use(count)
    task = app.task("through-middleware", lambda n: n)
    app.start()
    few, many = _garbage_after(app, task, 10), _garbage_after(app, task, 110)
    assert len(seen) == 122
    assert many - few <= 100 * PER_JOB_ALLOWED, f"{(many - few) / 100:.1f} unreachable objects per job"


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_a_worker_process_freezes_its_start_up_objects(start_worker: Any, client: Taskora, pool: str) -> None:
    """The handler reports ``gc.get_freeze_count()`` from inside the worker process: tens of thousands once its
    start-up objects are frozen, 0 otherwise (a prefork child inherits what its supervisor froze before forking)."""
    start_worker("-P", pool, "-c", "1")
    assert client.tasks["gc_frozen"].dispatch(None).result(timeout=20) > 10_000


def test_an_embedded_worker_leaves_its_hosts_collector_alone(app: Taskora) -> None:
    """A pool started inside another program (a test fixture, ``WorkController.start``) freezes nothing: an object
    frozen there that the host drops later would never be collected (Celery's own suite checks that a result
    backend is freed once its fixture ends)."""
    task = app.task("embedded", lambda n: n)
    pool = ThreadPool(WorkerSettings(app=app, tasks=[task], hostname="embedded@test", concurrency=1))
    frozen_before = gc.get_freeze_count()
    pool.start()
    try:
        assert task.dispatch(1).result(timeout=10) == 1
        assert gc.get_freeze_count() == frozen_before
    finally:
        pool.request_stop(cold=False)
        pool.wait(10)
