"""A Python worker finishes workflows the TypeScript taskora made (recordings 12-chain, 13-group,
14-chord): it restores TypeScript's state just after dispatch, runs the nodes, and must end in
TypeScript's own end state. TypeScript keeps the topology only in the ``graph`` JSON."""

from __future__ import annotations

import pytest

from taskora import Taskora

from ..waiting import wait_until
from .recording import assert_same_state, dump, load, restore
from .test_conformance_worker import PYTHON_WORKER

#: Each recording's tasks, as the TypeScript driver defined them.
TASKS = {
    "add": lambda d: d["x"] + d["y"],
    "double": lambda n: n * 2,
    "sum": lambda xs: sum(xs),
}


@pytest.mark.parametrize("name", ["12-chain", "13-group", "14-chord"])
def test_a_python_worker_finishes_a_typescript_workflow_as_typescript_does(prefixed_app, name: str) -> None:
    rec = load(name)
    app: Taskora = prefixed_app(rec.prefix)
    for task, fn in TASKS.items():
        app.task(task, fn)
    restore(app.adapter.client, rec.snapshot("dispatched"))
    wf_key = next(k for k in rec.after if ":wf:{" in k)
    app.start()

    wait_until(lambda: app.adapter.client.hget(wf_key, "state") == b"completed", what=f"{name} to complete")
    wait_until(lambda: not app.adapter.client.llen(rec.key("{add}:active")), what="the last ack")
    app.close(timeout=5)

    assert app.adapter.client.hget(wf_key, "result").decode() == rec.after[wf_key]["value"]["result"]
    assert_same_state(dump(app.adapter.client, rec.prefix), rec.after, rec.volatile, allow=PYTHON_WORKER)
