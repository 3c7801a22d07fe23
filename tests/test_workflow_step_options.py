"""Workflow steps and dispatch options, on both engines: a step takes its own concurrency key and limit
(its job gets them when the workflow reaches it), and refuses flow control with the reason."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from taskora import ConfigurationError, Taskora, chain, group


def claim(app: Taskora, task: str) -> Any:
    return app.adapter.claim(task, uuid.uuid4().hex, 30_000).job


@pytest.mark.parametrize(("option", "why"), [
    ({"deduplicate": {"key": "k"}}, "deduplicate: a step that is not created would leave its workflow waiting"),
    ({"throttle": {"key": "k", "max": 1, "window": "1m"}}, "throttle: a step that is not created"),
    ({"debounce": {"key": "k", "delay": "1s"}}, "debounce: a later dispatch would delete the step's job"),
    ({"throw_on_reject": True}, "throw_on_reject: a step is never rejected"),
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
