"""A re-sent job id marked ``_rerun`` (lua/lib/rerun.lua): what the Celery front needs to deliver a task id again.

Celery delivers a message whose task id was used before like any other (a frozen signature used in two canvases):
the task runs again and the backend keeps the last state. The engine stays idempotent by default: an id sent
again is dropped. A job carrying the ``_rerun`` mark replaces a FINISHED job of its id, never a live one, and
never the node of its own workflow enqueued again. Both engines (the ``app`` fixture).
"""

from __future__ import annotations

import threading

import pytest

from taskora import JobFailedError, Taskora, chain
from taskora.workflow.dispatch import dispatch_workflow
from tests.waiting import wait_until

RERUN = {"_rerun": "1"}


def _counting(app: Taskora):
    """A task returning how many times it has run so far (1, 2, ...)."""
    runs: list[int] = []

    def count(data):
        runs.append(data)
        return len(runs)

    return app.task("count", count), runs


def test_an_id_sent_again_without_the_mark_is_dropped(app: Taskora) -> None:
    count, runs = _counting(app)
    app.start()
    assert count.dispatch(1, job_id="same").result(timeout=10) == 1
    assert not count.dispatch(2, job_id="same").enqueued
    assert runs == [1]


def test_a_marked_id_sent_again_after_its_run_ended_runs_again(app: Taskora) -> None:
    count, runs = _counting(app)
    app.start()
    assert count.dispatch(1, job_id="same", meta=RERUN).result(timeout=10) == 1
    assert count.dispatch(2, job_id="same", meta=RERUN).enqueued
    wait_until(lambda: _final(app, "count", "same") and len(runs) == 2, what="the second run")
    assert runs == [1, 2] and app.adapter.counts("count")["completed"] == 1  # the second run replaced the first


def _final(app: Taskora, task: str, job_id: str) -> bool:
    """The job is finished. (Its handle's wait may see the earlier run's final event, as Celery's ``get()`` reads
    the backend's last state until the new run stores its own: these tests read the job itself.)"""
    return app.adapter.get_fields(task, job_id, ["state"]).get("state") in ("completed", "failed")


def test_a_marked_id_sent_again_after_a_failure_runs_again(app: Taskora) -> None:
    outcomes = iter([ValueError("first"), None])

    def flaky(data):
        error = next(outcomes)
        if error is not None:
            raise error
        return data

    task = app.task("flaky", flaky)
    app.start()
    first = task.dispatch("a", job_id="same", meta=RERUN)
    _wait_failed(first)
    assert task.dispatch("b", job_id="same", meta=RERUN).enqueued
    wait_until(lambda: app.adapter.counts("flaky")["completed"] == 1, what="the second run")
    assert app.adapter.counts("flaky")["failed"] == 0


def _wait_failed(handle) -> None:
    with pytest.raises(JobFailedError, match="first"):
        handle.result(timeout=10)


def test_a_marked_id_sent_again_while_its_job_waits_is_dropped(app: Taskora) -> None:
    count, runs = _counting(app)
    count.dispatch(1, job_id="same", meta=RERUN)
    assert not count.dispatch(2, job_id="same", meta=RERUN).enqueued
    assert app.adapter.counts("count")["waiting"] == 1
    app.start()
    count.dispatch(0, job_id="other").result(timeout=10)
    assert runs[0] == 1 and len(runs) == 2  # "same" once, "other" once


def test_a_workflow_node_with_a_marked_id_runs_again_in_a_second_workflow(app: Taskora) -> None:
    count, runs = _counting(app)
    ident = app.task("ident", lambda v: v)
    app.start()

    def flow():
        return chain(ident.s(5), count.s(job_id="node", meta=RERUN))

    assert dispatch_workflow(flow()).result(timeout=10) == 1
    assert dispatch_workflow(flow()).result(timeout=10) == 2
    assert runs == [5, 5]


def test_the_same_workflow_enqueueing_its_node_again_stays_idempotent(app: Taskora) -> None:
    """The re-run of an advance after a crash enqueues the ready node again with the same ``_wf``: dropped."""
    count, runs = _counting(app)
    release = threading.Event()
    app.task("gate", lambda v: release.wait(10) and v)
    handle = dispatch_workflow(chain(app.get_task("gate").s(3), count.s(job_id="node", meta=RERUN)))
    app.start()
    release.set()
    assert handle.result(timeout=10) == 1
    fields = app.adapter.get_fields("count", "node", ["_wf", "_wfNode", "data"])
    again = count.dispatch(3, job_id="node", meta={**RERUN, "_wf": fields["_wf"], "_wfNode": fields["_wfNode"]})
    assert not again.enqueued and runs == [3]
