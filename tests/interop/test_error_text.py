"""A failed job's ``error`` field is the bare message TypeScript writes (#19), also for the failures the engine
writes itself (a job stalled past ``stall.max_count``, a job whose workers were lost past ``stall.max_lost``);
the type goes to ``errorDetail``, from which ``JobFailedError`` and the Celery front name and rebuild it."""

from __future__ import annotations

import json

import pytest

from taskora import JobFailedError, StalledError, Taskora, WorkerLostError
from taskora.worker.liveness import Liveness
from tests.waiting import wait_until

#: The text TypeScript taskora's stall check stores when a job exceeds its max stalled count.
TS_STALLED_TEXT = "Job stalled and exceeded max stalled count"


def _stalled_past_max(app: Taskora) -> str:
    """A job whose worker died holding a 1 ms lock, swept twice with max_count 0: failed as stalled."""
    app.task("fragile", lambda data: data)
    job_id = app.tasks["fragile"].dispatch(None).id
    assert app.adapter.claim("fragile", "dead-worker", 1).job is not None
    app.adapter.stall_sweep("fragile", 0)  # notes the job active
    wait_until(lambda: not app.adapter.locks_of_active("fragile"), what="the dead worker's lock to lapse")
    assert app.adapter.stall_sweep("fragile", 0) == ([], [job_id])
    return job_id


def test_a_job_stalled_past_max_count_stores_typescripts_text_and_its_type_apart(app: Taskora) -> None:
    job_id = _stalled_past_max(app)

    job = app.adapter.get_job("fragile", job_id)
    assert job["error"] == TS_STALLED_TEXT
    detail = json.loads(job["errorDetail"])
    assert (detail["type"], detail["module"], detail["args"]) == ("StalledError", "taskora.errors", [TS_STALLED_TEXT])
    assert "stalled 1 times, max 0" in detail["message"]
    with pytest.raises(JobFailedError, match=f"StalledError: {TS_STALLED_TEXT}$") as failed:
        app.handle("fragile", job_id).result(timeout=5)
    assert failed.value.error == TS_STALLED_TEXT and failed.value.error_type == "StalledError"


def test_a_job_lost_past_max_lost_stores_the_bare_message_and_its_type_apart(app: Taskora) -> None:
    task = app.task("t", lambda _: None, stall={"max_lost": 0})
    job_id = app.dispatch("t", None).id
    assert app.adapter.claim("t", Liveness(app.adapter, "gone@host").new_token(), 30_000).job.id == job_id
    me = Liveness(app.adapter, "me@host")
    me.beat()  # its own key there: a missing one means a gone worker
    assert me.reclaim(task) == [job_id]

    job = app.adapter.get_job("t", job_id)
    assert job["error"] == "its worker was lost 1 times (max 0)"
    assert json.loads(job["errorDetail"])["type"] == "WorkerLostError"


def test_the_celery_front_rebuilds_an_engine_written_failure_as_its_type(app: Taskora) -> None:
    from taskora.compat._exception_transport import failure_exception

    job_id = _stalled_past_max(app)

    rebuilt = failure_exception(app.adapter.get_job("fragile", job_id))
    assert isinstance(rebuilt, StalledError) and not isinstance(rebuilt, WorkerLostError)
    assert str(rebuilt) == TS_STALLED_TEXT
