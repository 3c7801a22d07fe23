"""Quarantine (taskora/worker/quarantine.py) in process, on both engines: a suspect job waits alone however
long its lock lease, kept by the heartbeat meanwhile, and runs once."""

from __future__ import annotations

import threading
import time
from typing import Any

from taskora import Taskora
from taskora.worker.liveness import Liveness
from taskora.worker.loop import Worker
from taskora.worker.quarantine import is_suspect
from tests.waiting import wait_until


def _lost_once(app: Taskora, task: str, data: Any) -> str:
    """A job handed back as lost (``lostCount`` 1): claimed by a worker that is gone, then reclaimed."""
    handle = app.dispatch(task, data)
    assert app.adapter.claim(task, Liveness(app.adapter, "gone@host").new_token(), 30_000).job.id == handle.id
    me = Liveness(app.adapter, "me@host")
    me.beat()  # its own key there: a missing one means a gone worker
    assert me.reclaim(app.get_task(task)) == [handle.id]
    return handle.id


def _reserved_here(worker: Worker, job_id: str) -> bool:
    with worker.held.lock:
        return job_id in worker.held.reserved


def test_a_quarantine_wait_longer_than_the_lock_lease_neither_loses_nor_duplicates_the_job(app: Taskora) -> None:
    # Given a job running for a while, and a suspect job whose lock lease (0.6 s) is shorter than its wait
    started, release, ended, runs = threading.Event(), threading.Event(), [], []
    a = app.task("a", lambda _: (started.set(), release.wait(20), ended.append(time.monotonic())),
                 stall={"interval": 0.6})
    b = app.task("b", lambda data: runs.append(time.monotonic()) or data, stall={"interval": 0.6})
    suspect = _lost_once(app, "b", "b1")
    worker = Worker(app, [a], concurrency=1)
    worker.start()
    try:
        a.dispatch(None)
        assert started.wait(10)
        worker.serve_tasks([b], 2)  # two slots: a second one would run the job again should its lock lapse
        # When it waits for the running job, past three lock leases
        wait_until(lambda: _reserved_here(worker, suspect), 10, "the suspect to wait, reserved")
        threading.Event().wait(2.0)  # time itself: the lease must be outlived
        assert runs == [] and _reserved_here(worker, suspect)
        release.set()
        # Then it runs once, alone (after the other job ended), never recovered as stalled
        assert app.get_task("b").handle(suspect).result(timeout=10) == "b1"
    finally:
        release.set()
        worker.stop(timeout=10)
    assert len(runs) == 1 and runs[0] >= ended[0]
    fields = app.adapter.get_fields("b", suspect, ["attempt", "lostCount", "stalledCount"])
    assert fields == {"attempt": "1", "lostCount": "1", "stalledCount": None}, fields


def test_a_job_whose_last_attempt_killed_its_process_is_a_suspect() -> None:
    died = '{"type": "WorkerLostError", "message": "worker process died (signal 6) while running this job"}'
    raised = '{"type": "ValueError", "message": "WorkerLostError in the text only"}'
    assert is_suspect({"errorDetail": died}) and is_suspect({"lostCount": "2"})
    assert not is_suspect({"errorDetail": raised}) and not is_suspect({"lostCount": "0", "errorDetail": "{bad"})
