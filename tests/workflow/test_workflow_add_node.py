"""A node added to a running workflow's fan-in (``taskora.workflow.extend.add_to_fan_in``, the Celery front's
``Task.add_to_chord``) is in the workflow's ``graph`` JSON too, as the TypeScript taskora writes a node, so a
TypeScript reader (the board, a TypeScript worker) sees it. Both engines (the ``app`` fixture)."""

from __future__ import annotations

import json

import pytest

from taskora import Taskora, chord
from taskora.errors import TaskoraError
from taskora.workflow.extend import add_to_fan_in
from taskora.workflow.wire import wire_nodes


@pytest.fixture
def adding(app: Taskora):
    """``adder`` adds ``ident.s(10)`` to its chord while it runs and returns the added job's id."""
    ident = app.task("ident", lambda v: v)

    def adder(data, ctx):
        return add_to_fan_in(app, ctx.meta("_wf"), int(ctx.meta("_wfNode")), ident.s(10))

    app.task("adder", adder)
    app.task("total", lambda values: values)
    return app


def test_the_added_node_is_in_the_graph_json_as_typescript_writes_a_node(adding: Taskora) -> None:
    adder, ident, total = (adding.get_task(n) for n in ("adder", "ident", "total"))
    handle = chord([adder.s(None), ident.s(1)], total.s()).dispatch()
    adding.start()
    added_id, one, ten = handle.result(timeout=10)
    assert (one, ten) == (1, 10)
    graph = json.loads(adding.adapter.workflow_fields(handle.id, ["graph"])["graph"])
    assert graph["nodes"][2]["deps"] == [0, 1, 3]  # the body waits for the added node
    assert graph["nodes"][3] == {"taskName": "ident", "deps": [], "jobId": added_id, "_v": 1, "data": "10"}
    assert graph["terminal"] == [2]
    assert [n["deps"] for n in wire_nodes(json.dumps(graph))] == [[], [], [0, 1, 3], []]


def test_the_graph_text_keeps_the_shape_python_writes(adding: Taskora) -> None:
    """Empty deps stay ``[]`` (a decode and encode in Lua would write ``{}``), keys keep TypeScript's order."""
    adder, ident, total = (adding.get_task(n) for n in ("adder", "ident", "total"))
    handle = chord([adder.s(None)], total.s()).dispatch()
    adding.start()
    handle.result(timeout=10)
    text = _text(adding.adapter.workflow_fields(handle.id, ["graph"])["graph"])
    assert text.startswith('{"nodes":[{"taskName":"adder","deps":[],')
    assert text.count('"deps":[]') == 2 and '"deps":[0,2]' in text and "{}" not in text


def test_a_workflow_whose_graph_text_is_not_the_shape_python_writes_is_left_as_it_was(adding: Taskora) -> None:
    ident, total = adding.get_task("ident"), adding.get_task("total")
    handle = chord([ident.s(1), ident.s(2)], total.s()).dispatch()  # not started: the body waits
    key = adding.adapter.keys.workflow(handle.id)
    adding.adapter.client.hset(key, "graph", '{"nodes": [], "terminal": [2]}')
    with pytest.raises(TaskoraError, match="graph JSON is not the shape"):
        add_to_fan_in(adding, handle.id, 0, ident.s(3))
    fields = adding.adapter.workflow_fields(handle.id, ["nodeCount", "n:2:deps"])
    assert {k: _text(v) for k, v in fields.items()} == {"nodeCount": "3", "n:2:deps": "0,1"}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
