"""Saved groups and the in-process ``workflow:failed`` / ``workflow:cancelled`` events, on both engines."""

from __future__ import annotations

import threading

import pytest

from taskora import ConfigurationError, JobFailedError, chord
from taskora.workflow import delete_group, load_group, save_group

FAST = {"stall": {"interval": 1}}


def test_a_saved_group_is_loaded_back_replaced_and_deleted(make_app) -> None:
    app = make_app()
    assert load_group(app, "g1") is None
    save_group(app, "g1", ["a", "b|c", '{"id": "x"}'], ttl="1h")
    assert load_group(app, "g1") == ["a", "b|c", '{"id": "x"}']
    save_group(app, "g1", ["only"])
    assert load_group(app, "g1") == ["only"]
    assert delete_group(app, "g1") is True and delete_group(app, "g1") is False
    assert load_group(app, "g1") is None


def test_a_saved_group_expires_after_its_ttl(make_app, adapter_kind) -> None:
    app = make_app()
    save_group(app, "short", ["a"], ttl="1h")
    key = app.adapter.keys.group_result("short")
    assert key == "taskora:group:{short}"
    assert 0 < app.adapter.client.pttl(key) <= 3600 * 1000


def test_bad_group_input_is_named(make_app) -> None:
    app = make_app()
    with pytest.raises(ConfigurationError, match="non-empty string id"):
        save_group(app, "", ["a"])
    with pytest.raises(ConfigurationError, match="members must be strings"):
        save_group(app, "g", ["a", 3])


def test_workflow_failed_is_emitted_once_with_the_settled_nodes(make_app) -> None:
    app = make_app()
    app.task("ident", lambda v: v, **FAST)

    def boom(d):
        raise ValueError("boom")

    app.task("boom", boom, **FAST)
    app.task("total", lambda xs: sum(xs), **FAST)
    events, done = [], threading.Event()

    def listener(event):
        events.append(event)
        done.set()

    app.on("workflow:failed", listener)
    body = app.get_task("total").s(meta={"front.label": "body"})
    handle = chord([app.get_task("ident").s(1), app.get_task("boom").s(2)], body).dispatch()
    app.start()
    with pytest.raises(JobFailedError):
        handle.result(timeout=10)
    assert done.wait(10)
    (event,) = events
    assert event.id == handle.id and "boom" in event.error
    (settled,) = [n for n in event.extra["settled"] if n["task"] == "total"]
    assert settled["fanin"] is True and settled["state"] == "cancelled"
    assert settled["fields"] == {"front.label": "body"}
    job = app.handle("total", settled["job_id"]).fields()
    assert job["front.label"] == "body" and job["state"] == "cancelled"


def test_workflow_cancelled_is_emitted_by_the_canceller(make_app) -> None:
    app = make_app()
    app.task("ident", lambda v: v, **FAST)
    events = []
    app.on("workflow:cancelled", events.append)
    ident = app.get_task("ident")
    handle = (ident.s(1) | ident.s()).dispatch()  # no worker: both nodes stay open
    assert handle.cancel("stop") is True and handle.cancel("again") is False
    (event,) = events
    assert event.reason == "stop" and len(event.extra["settled"]) == 2
