"""A workflow of 1,000 nodes completes: a group of 1,000, and a chord of 1,000 into one body."""

from __future__ import annotations

from taskora import chord, group
from taskora.workflow.inspect import show_workflow


def test_a_group_and_a_chord_of_a_thousand_nodes_complete(make_app) -> None:
    app = make_app()
    square = app.task("square", lambda n: n * n, concurrency=4)
    total = app.task("total", lambda xs: sum(xs))
    app.start()
    fan_out = group(square.s(i) for i in range(1000)).dispatch()
    assert fan_out.result(timeout=50) == [i * i for i in range(1000)]
    fan_in = chord([square.s(i) for i in range(1000)], total.s()).dispatch()
    assert fan_in.result(timeout=50) == sum(i * i for i in range(1000))
    detail = show_workflow(app, fan_in.id)
    assert detail is not None and len(detail["nodes"]) == 1001
    assert {n["state"] for n in detail["nodes"]} == {"completed"}
