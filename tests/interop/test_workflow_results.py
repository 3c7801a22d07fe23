"""Workflow results as the TypeScript taskora stores and advances them: a group's result is stored as
the JSON array of its members' results (not assembled on read), a Python producer waits through the
window in which a TypeScript worker has acked a final node but not yet advanced the workflow, and a
Python handle reads a TypeScript-made workflow's result."""

from __future__ import annotations

import pytest

from taskora import Taskora, TimeoutError, chain, group
from taskora.workflow import WorkflowHandle

from .recording import load, restore


@pytest.fixture
def tasks(app: Taskora) -> Taskora:
    app.task("add", lambda d: d["x"] + d["y"])
    app.task("double", lambda n: n * 2)
    return app


def _wf_field(app: Taskora, wf_id: str, field: str) -> str | None:
    raw = app.adapter.client.hget(app.adapter.keys.workflow(wf_id), field)
    return None if raw is None else raw.decode()


def test_a_group_stores_its_result_as_the_json_array_typescript_stores(tasks: Taskora) -> None:
    add, double = tasks.get_task("add"), tasks.get_task("double")
    tasks.start()
    handle = group(add.s({"x": 1, "y": 1}), add.s({"x": 2, "y": 2}), double.s(21)).dispatch()

    assert handle.result(timeout=10) == [2, 4, 42]
    assert _wf_field(tasks, handle.id, "result") == "[2,4,42]"


def test_a_chain_ending_in_a_group_stores_the_groups_array(tasks: Taskora) -> None:
    add, double = tasks.get_task("add"), tasks.get_task("double")
    tasks.start()
    handle = chain(add.s({"x": 1, "y": 2}), group(double.s(), double.s())).dispatch()

    assert handle.result(timeout=10) == [6, 6]
    assert _wf_field(tasks, handle.id, "result") == "[6,6]"


def test_a_group_stored_before_without_its_result_is_still_assembled(tasks: Taskora) -> None:
    add = tasks.get_task("add")
    tasks.start()
    handle = group(add.s({"x": 1, "y": 1}), add.s({"x": 2, "y": 2})).dispatch()
    handle.result(timeout=10)
    tasks.adapter.client.hdel(tasks.adapter.keys.workflow(handle.id), "result")

    assert WorkflowHandle(tasks, handle.id).result(timeout=5) == [2, 4]


def _ack_as_typescript(app: Taskora, task: str, job_id: str, result: str) -> None:
    """What TypeScript's ACK leaves behind (recording 13), with no advance of the workflow yet."""
    client, keys = app.adapter.client, app.adapter.keys
    client.lrem(keys.queue(task)[0], 1, job_id)
    client.hset(keys.job(task, job_id), mapping={"state": "completed", "finishedOn": 1, "result": result})
    client.zadd(keys.queue(task)[4], {job_id: 1})
    client.xadd(keys.events(task), {"event": "completed", "jobId": job_id})


def test_a_producer_waits_while_a_typescript_worker_has_acked_but_not_advanced(tasks: Taskora) -> None:
    add = tasks.get_task("add")
    handle = group(add.s({"x": 1, "y": 2}), add.s({"x": 3, "y": 4})).dispatch()
    for job_id, result in zip(handle.job_ids(), ["3", "7"], strict=True):
        _ack_as_typescript(tasks, "add", job_id, result)

    with pytest.raises(TimeoutError):  # was: TaskoraError "... is running although its final nodes ended"
        handle.result(timeout=0.3)
    tasks.adapter.client.hset(tasks.adapter.keys.workflow(handle.id), mapping={
        "n:0:state": "completed", "n:0:result": "3", "n:1:state": "completed", "n:1:result": "7",
        "state": "completed", "result": "[3,7]"})
    assert handle.result(timeout=5) == [3, 7]


@pytest.mark.parametrize(("name", "expected"), [("12-chain", 22), ("13-group", [2, 4, 42]), ("14-chord", 10)])
def test_a_python_handle_reads_a_typescript_workflows_result(prefixed_app, name: str, expected) -> None:
    rec = load(name)
    app: Taskora = prefixed_app(rec.prefix)
    restore(app.adapter.client, rec.after)

    assert WorkflowHandle(app, rec.output("workflowId")).result(timeout=5) == expected


def test_a_python_handle_lists_a_typescript_workflows_nodes(prefixed_app) -> None:
    rec = load("14-chord")
    app: Taskora = prefixed_app(rec.prefix)
    restore(app.adapter.client, rec.after)

    nodes = WorkflowHandle(app, rec.output("workflowId")).nodes()
    assert [(n["task"], n["deps"], n["state"], n["terminal"]) for n in nodes] == [
        ("add", [], "completed", False), ("add", [], "completed", False), ("sum", [0, 1], "completed", True)]
