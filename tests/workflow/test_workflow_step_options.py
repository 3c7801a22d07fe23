"""Workflow steps and dispatch options, on both engines: a step takes its own concurrency key and limit
(its job gets them when the workflow reaches it) and ``deduplicate`` (a step whose key a live job holds
fails its workflow with a DuplicateJobError), and refuses throttle/debounce with the reason."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from taskora import ConfigurationError, JobFailedError, Taskora, chain, group
from taskora.adapters.base import FlowRequest
from taskora.workflow.step_options import Step, enqueue_steps
from tests.waiting import wait_until


def claim(app: Taskora, task: str) -> Any:
    return app.adapter.claim(task, uuid.uuid4().hex, 30_000).job


@pytest.mark.parametrize(("option", "why"), [
    ({"throttle": {"key": "k", "max": 1, "window": "1m"}}, "throttle: a step refused for load would fail"),
    ({"debounce": {"key": "k", "delay": "1s"}}, "debounce: a later dispatch would delete the step's job"),
    ({"throw_on_reject": True}, "throw_on_reject: a deduplicated step always fails its workflow"),
])  # fmt: skip
def test_a_step_refuses_flow_control_and_says_why(app: Taskora, option: dict[str, Any], why: str) -> None:
    task = app.task("step", lambda d: d)
    with pytest.raises(ConfigurationError, match=rf"step\.s\(\): a workflow step does not take {why}"):
        task.s(1, **option)


def test_steps_with_their_own_concurrency_key_are_limited_per_key(app: Taskora) -> None:
    task = app.task("sync", lambda d: d)
    group(task.s(1, concurrency_key="acct:1"), task.s(2, concurrency_key="acct:1"),
          task.s(3, concurrency_key="acct:2", concurrency_limit=2)).dispatch()

    first, second = claim(app, "sync"), claim(app, "sync")
    started = {(j.fields["concurrencyKey"], j.fields["concurrencyLimit"]) for j in (first, second)}
    assert started == {("acct:1", "1"), ("acct:2", "2")}
    assert claim(app, "sync") is None  # the second job of acct:1 waits for the slot


def test_a_later_step_gets_its_key_when_the_workflow_reaches_it(app: Taskora) -> None:
    first = app.task("fetch", lambda d: d + 1)
    keyed = app.task("store", lambda d: d * 10, concurrency_key=lambda d: f"shard:{d % 2}", concurrency_limit=3)
    handle = chain(first.s(1), keyed.s(concurrency_limit=1), keyed.s(concurrency_key="final")).dispatch()
    app.start()

    assert handle.result(timeout=10) == 200
    jobs = [app.inspect().find(job_id) for job_id in handle.job_ids()]
    assert [(j.concurrency_key, j.concurrency_limit) for j in jobs] == [(None, None), ("shard:0", 1), ("final", 3)]


@pytest.mark.parametrize(("declared", "step", "named"), [
    ({}, {"concurrency_limit": 2}, "concurrency_limit needs a concurrency_key"),
    ({}, {"concurrency_key": ""}, "concurrency_key must be a non-empty string"),
    ({"singleton": True}, {"concurrency_key": "k"}, "concurrency_key cannot be given for a singleton task"),
    ({}, {"concurrency_key": "k", "concurrency_limit": 0}, "concurrency_limit must be an integer >= 1"),
])  # fmt: skip
def test_a_bad_step_key_refuses_the_workflow_with_nothing_written(
        app: Taskora, declared: dict[str, Any], step: dict[str, Any], named: str) -> None:  # fmt: skip
    task = app.task("sync", lambda d: d, **declared)
    with pytest.raises(ConfigurationError, match=named):
        chain(task.s(1), task.s(**step)).dispatch()
    assert [k for k in app.adapter.raw_client().keys("*") if k != b"taskora:meta"] == []


def test_a_bad_step_deduplicate_is_refused_at_the_call_site(app: Taskora) -> None:
    task = app.task("step", lambda d: d)
    with pytest.raises(ConfigurationError, match=r"step\.s\(\): deduplicate\.key must be a non-empty string"):
        task.s(1, deduplicate={"key": ""})
    with pytest.raises(ConfigurationError, match=r"unknown state\(s\) \['done'\]"):
        task.s(1, deduplicate={"key": "k", "while": ["done"]})


def test_a_deduplicated_step_with_a_free_key_runs_and_releases_it(app: Taskora) -> None:
    fetch, store = app.task("fetch", lambda d: d + 1), app.task("store", lambda d: d * 10)
    handle = chain(fetch.s(1), store.s(deduplicate={"key": "store:1"})).dispatch()
    app.start()
    assert handle.result(timeout=10) == 20
    assert app.inspect().find(handle.job_ids()[1]).dedup_key == "store:1"
    assert app.adapter.raw_client().exists("taskora:{store}:dedup:store:1") == 0


def test_a_step_reached_while_its_key_is_held_fails_the_workflow_with_duplicate_job_error(app: Taskora) -> None:
    fetch, store = app.task("fetch", lambda d: d + 1), app.task("store", lambda d: d * 10)
    holder = store.dispatch(7, deduplicate={"key": "store:1"}, delay="1h")  # a live job holding the key
    handle = chain(fetch.s(1), store.s(deduplicate={"key": "store:1"}), fetch.s()).dispatch()
    app.start()

    with pytest.raises(JobFailedError, match=f"job {holder.id} holds deduplicate key 'store:1'") as caught:
        handle.result(timeout=10)
    assert caught.value.error_type == "DuplicateJobError"
    step_job, last_job = handle.job_ids()[1:]
    assert app.inspect().find(step_job).state == "failed"  # the step's own handle resolves too
    wait_until(lambda: app.inspect().find(last_job) is not None, 10, "the rest of the workflow to be settled")
    assert app.inspect().find(last_job).state == "cancelled"  # settled right after the workflow ended
    assert holder.state() == "delayed"  # the holder is left alone


def test_a_root_step_whose_key_is_held_fails_its_workflow_at_dispatch(app: Taskora) -> None:
    report = app.task("report", lambda d: d)
    first = chain(report.s(1, deduplicate={"key": "nightly"}), report.s()).dispatch()
    second = chain(report.s(2, deduplicate={"key": "nightly"}), report.s()).dispatch()
    assert second.state() == "failed" and first.state() == "running"
    app.start()
    assert first.result(timeout=10) == 1
    with pytest.raises(JobFailedError, match=f"job {first.job_ids()[0]} holds deduplicate key 'nightly'"):
        second.result(timeout=10)


def test_creating_a_deduplicated_step_again_is_harmless(app: Taskora) -> None:
    """A worker that dies between its advance and its ack advances again (hooks.py): the step's job then holds
    its own key, which is not a duplicate."""
    report = app.task("report", lambda d: d)
    handle = chain(report.s(1, deduplicate={"key": "k"}), report.s()).dispatch()
    job = report.handle(handle.job_ids()[0])
    request = report.build_request(1, {"job_id": job.id})
    request.fields.update({"_wf": handle.id, "_wfNode": "0"})
    enqueue_steps(app, handle.id, [Step(0, request, FlowRequest("deduplicate", "k", states=("waiting",)))])
    assert handle.state() == "running" and job.state() == "waiting"

