"""Recorded conformance, producer side: a Python producer does what the TypeScript driver did on an
empty prefix (or on the recording's ``before`` state), and what it wrote must match the recording,
ids and times aside. Allowed differences are explained in docs/guide/interop.md."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from taskora import SchemaVersionMismatchError, Taskora, chain, chord, group
from taskora.scheduler.runner import SchedulerRunner

from ..waiting import wait_until
from .recording import Allowed, Recording, assert_same_state, dump, load, restore
from .test_conformance_worker import PYTHON_WORKER

#: What a Python producer writes beyond TypeScript into a workflow: its workflow index and flat per-node
#: fields (so advancing never parses JSON), and root nodes marked ``waiting`` (their job is enqueued) where
#: TypeScript marks every node ``pending``; docs/guide/interop.md. Checked apart: ``_assert_node_states``.
PYTHON_WORKFLOW = Allowed(keys=(r":workflows$",),
                          fields=("nodeCount", "terminalCount", "terminalLeft", "terminals", "listResult", "name",
                                  "expireAt", "cascade", r"n:\d+:state",
                                  r"n:\d+:(task|job|next|deps|left|mode|data|fanin|meta|terminal)"))


def _next_ms(app: Taskora) -> None:
    now = app.adapter.now_ms()
    wait_until(lambda: app.adapter.now_ms() > now, what="the next millisecond")


def _handshake(app: Taskora, rec: Recording) -> None:
    app.adapter.connect()


def _dispatch_add(app: Taskora, rec: Recording) -> None:
    app.task("add", lambda d: d).dispatch({"x": 2, "y": 3})


def _dispatch_priorities(app: Taskora, rec: Recording) -> None:
    prio = app.task("prio", lambda d: d)
    for label, priority in rec.data["options"]["dispatches"]:
        prio.dispatch({"label": label}, **({} if priority is None else {"priority": priority}))
        _next_ms(app)


def _dispatch_delayed(app: Taskora, rec: Recording) -> None:
    app.task("later", lambda d: d).dispatch({"at": app.adapter.now_ms()}, delay=1.5)


def _cancel_waiting(app: Taskora, rec: Recording) -> None:
    app.task("slow", lambda d: d).handle(rec.output("jobId")).cancel("user-cancel")


def _cancel_active(app: Taskora, rec: Recording) -> None:
    """08: a cooperative handler, cancelled while it runs; both sides run here (no TypeScript process)."""
    started = threading.Event()

    def coop(data, ctx):
        started.set()
        ctx.signal.wait(10)

    handle = app.task("coop", coop).dispatch({"ms": 10000})
    app.start()
    assert started.wait(10)
    handle.cancel("stop-it")
    wait_until(lambda: handle.state() == "cancelled" and not app.adapter.client.llen(app.adapter.keys.queue("coop")[2]),
               what="the cancel to finish")
    app.close(timeout=5)


def _workflow(build: Callable[[Taskora], Any]) -> Callable[[Taskora, Recording], None]:
    def run(app: Taskora, rec: Recording) -> None:
        for name in ("add", "double", "sum"):
            app.task(name, lambda d: d)
        build(app).dispatch()
    return run


def _chain(app: Taskora) -> Any:
    return chain(app.get_task("add").s({"x": 10, "y": 1}), app.get_task("double").s())


def _group(app: Taskora) -> Any:
    add, double = app.get_task("add"), app.get_task("double")
    return group(add.s({"x": 1, "y": 1}), add.s({"x": 2, "y": 2}), double.s(21))


def _chord(app: Taskora) -> Any:
    add = app.get_task("add")
    return chord([add.s({"x": 1, "y": 2}), add.s({"x": 3, "y": 4})], app.get_task("sum").s())


@dataclass
class Scenario:
    name: str
    act: Callable[[Taskora, Recording], None]
    expected: str  # the snapshot label to compare with, or "after"
    allow: Allowed = Allowed()
    from_before: bool = True  # start from the recording's ``before`` state (else from an empty prefix)


SCENARIOS = [
    Scenario("01-handshake", _handshake, "after-first"),
    Scenario("02-dispatch", _dispatch_add, "dispatched"),
    Scenario("03-priority", _dispatch_priorities, "enqueued"),
    # data holds the dispatch time; TypeScript's idle worker had popped the marker before the snapshot
    Scenario("04-delayed", _dispatch_delayed, "dispatched", Allowed(fields=("data",), keys=(r":marker$",))),
    # Python records when a waiting job was cancelled too; TypeScript's worker then popped the marker
    Scenario("07-cancel", _cancel_waiting, "after", Allowed(fields=("cancelledAt",), keys=(r":marker$",))),
    Scenario("08-cancel-active", _cancel_active, "after", PYTHON_WORKER, from_before=False),
    Scenario("12-chain", _workflow(_chain), "dispatched", PYTHON_WORKFLOW),
    Scenario("13-group", _workflow(_group), "dispatched", PYTHON_WORKFLOW),
    Scenario("14-chord", _workflow(_chord), "dispatched", PYTHON_WORKFLOW),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_a_python_producer_writes_what_typescript_wrote(prefixed_app, scenario: Scenario) -> None:
    rec = load(scenario.name.split("-")[0])
    app: Taskora = prefixed_app(rec.prefix)
    if scenario.from_before:
        restore(app.adapter.client, rec.before)

    scenario.act(app, rec)

    expected = rec.after if scenario.expected == "after" else rec.snapshot(scenario.expected)
    assert_same_state(dump(app.adapter.client, rec.prefix), expected, rec.volatile, mask_ids=True,
                      allow=scenario.allow)


@pytest.mark.parametrize("name", ["12-chain", "13-group", "14-chord"])
def test_workflow_nodes_are_pending_except_the_enqueued_roots(prefixed_app, name: str) -> None:
    rec = load(name)
    app: Taskora = prefixed_app(rec.prefix)
    build = {"12-chain": _chain, "13-group": _group, "14-chord": _chord}[name]
    _workflow(build)(app, rec)

    wf_key = next(k for k in dump(app.adapter.client, rec.prefix) if ":wf:{" in k)
    ours = {k.decode(): v.decode() for k, v in app.adapter.client.hgetall(wf_key).items() if k.endswith(b":state")}
    theirs = {k: v for k, v in next(e for k, e in rec.snapshot("dispatched").items() if ":wf:{" in k)["value"].items()
              if k.endswith(":state") and k.startswith("n:")}
    graph = json.loads(app.adapter.client.hget(wf_key, "graph"))
    roots = {f"n:{i}:state" for i, node in enumerate(graph["nodes"]) if not node["deps"]}
    assert set(ours) == set(theirs) and set(theirs.values()) == {"pending"}
    assert {k: v for k, v in ours.items() if k not in roots} == {k: v for k, v in theirs.items() if k not in roots}
    assert {ours[k] for k in roots} == {"waiting"}


def test_a_python_producer_refuses_typescripts_v7_store_as_typescript_did(prefixed_app) -> None:
    rec = load("23")
    app: Taskora = prefixed_app(rec.prefix)
    restore(app.adapter.client, rec.before)
    add = app.task("add", lambda d: d)

    for attempt in (app.adapter.connect, lambda: add.dispatch({"x": 1, "y": 2})):
        with pytest.raises(SchemaVersionMismatchError, match="theirs_too_new"):
            attempt()
    refusals = [rec.output(k)["name"] for k in ("ensureConnected", "dispatch", "start")]
    assert refusals == ["SchemaVersionMismatchError"] * 3
    assert_same_state(dump(app.adapter.client, rec.prefix), rec.after, rec.volatile)


def test_stored_schedules_are_written_as_typescript_writes_them(prefixed_app) -> None:
    rec = load("15")
    app: Taskora = prefixed_app(rec.prefix)
    app.task("tick", lambda d: d)
    app.schedule("every-1s", task="tick", every=1, data={"kind": "every"})
    app.schedule("cron-2s", task="tick", cron="*/2 * * * * *", data={"kind": "cron"})

    assert SchedulerRunner(app).tick_once().leader
    ours, theirs = dump(app.adapter.client, rec.prefix), rec.snapshot("registered")
    stored = rec.key("schedules")
    # Our additive keys (``source``; a cron's ``timezone``) follow TypeScript's, in TypeScript's order.
    for name, text in theirs[stored]["value"].items():
        assert ours[stored]["value"][name].startswith(text[:-1] + ","), name
    lock = rec.key("schedules:lock")
    assert ours[lock]["pttl"] > 0 and theirs[lock]["pttl"] > 0  # the token is each side's own
    assert_same_state(ours, theirs, rec.volatile, mask_ids=True, allow=Allowed(keys=(r":schedules(:lock)?$",)))
