"""A job's objects are freed as the job ends, not left to the cyclic garbage collector, and a worker process
keeps its start-up objects out of the collector's way (heap.py).

Why it matters: a reference cycle per job (a listener on the job's abort signal naming the job, a composed
middleware chain calling itself) made the collector run every few dozen jobs under load, and each run of its oldest
generation stopped every thread of the worker for 11-13 ms (bench/README.md, "Pauses for the garbage
collector").
"""

from __future__ import annotations

import gc
import subprocess
import sys
from typing import Any

import pytest

from taskora import Taskora
from taskora.context import AbortSignal, Context
from taskora.middleware import MiddlewareContext
from taskora.worker.pools import ThreadPool, WorkerSettings
from taskora.worker.runtime import JobRuntime

#: What every job makes once: found unreachable, they were left to the collector by a job (the old code left a
#: JobRuntime and its AbortSignal per job, and the Context and MiddlewareContext through middleware). Counting only
#: these, not every unreachable object, keeps out what the rest of the test process leaves now and then (an app
#: another test left open retrying its event stream).
JOB_TYPES = (JobRuntime, AbortSignal, Context, MiddlewareContext)
JOBS = 100


def _job_objects_left(task: Any) -> int:
    """Job objects that only the cyclic collector frees, after ``JOBS`` jobs run one after the other."""
    task.dispatch(-1).result(timeout=10)  # first-call caches (scripts, encoders) are made before counting
    gc.collect()
    gc.disable()
    try:
        for i in range(JOBS):
            task.dispatch(i).result(timeout=10)
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collection finds unreachable stays in gc.garbage to be counted
        gc.collect()
        return sum(isinstance(found, JOB_TYPES) for found in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_a_finished_job_leaves_no_reference_cycle(app: Taskora) -> None:
    task = app.task("plain", lambda n: n, keep_result=True)
    app.start()
    assert _job_objects_left(task) == 0


def test_a_job_through_middleware_leaves_no_reference_cycle(app: Taskora) -> None:
    seen: list[int] = []

    def count(mctx: Any, call_next: Any) -> Any:
        seen.append(1)
        return call_next()

    app.use(count)
    task = app.task("through-middleware", lambda n: n)
    app.start()
    assert _job_objects_left(task) == 0
    assert len(seen) == 1 + JOBS


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_a_worker_process_freezes_its_start_up_objects(start_worker: Any, client: Taskora, pool: str) -> None:
    """The handler reports ``gc.get_freeze_count()`` from inside the worker process: tens of thousands once its
    start-up objects are frozen, 0 otherwise."""
    start_worker("-P", pool, "-c", "1")
    assert client.tasks["gc_frozen"].dispatch(None).result(timeout=20) > 10_000


def test_a_prefork_child_does_not_freeze(start_worker: Any, client: Taskora) -> None:
    """heap.py: a child inherits its supervisor's pipes and sockets, which the collector must stay free to close.
    It holds as many frozen objects as the interpreter starts with (none, but 375 on CPython 3.12)."""
    start_worker("-P", "prefork", "-c", "1")
    assert client.tasks["gc_frozen"].dispatch(None).result(timeout=20) == _frozen_at_interpreter_start()


def _frozen_at_interpreter_start() -> int:
    probe = "import gc; print(gc.get_freeze_count())"
    return int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)


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
