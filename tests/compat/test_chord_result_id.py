# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A chord's result as Celery's: its id is its body's (a body chain's last task's), as ``chord.freeze(id)`` and
``chord.apply_async(task_id=id)`` give it (test_canvas.py's ``test_chain_of_implicit_chords_as_body``), and its
``get()`` raises a failed header's error whatever the body's shape."""

from __future__ import annotations

import json
import uuid

import pytest
from taskora.compat import chain, chord, group, signature

from ..waiting import wait_until
from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def tasks(make_celery):
    app = make_celery()

    @app.task(name="cr.add")
    def add(x, y):
        return x + y

    @app.task(name="cr.tsum")
    def tsum(values):
        return sum(values)

    @app.task(name="cr.fail")
    def fail():
        raise KeyError("header failed")

    app.__taskora_app__.start(concurrency=2)
    return add, tsum


def _workflow(add, tsum):
    body = chain(tsum.s(), group(add.s(1), add.s(2)), tsum.s())  # 3 -> [4, 5] -> 9
    return chord([add.si(1, 1), add.si(0, 1)], body)


@pytest.mark.parametrize("serialized", [False, True])
def test_apply_async_task_id_is_the_id_of_the_body_chains_last_task(tasks, serialized):
    add, tsum = tasks
    workflow = _workflow(add, tsum)
    if serialized:
        workflow = signature(json.loads(json.dumps(workflow)))
    wanted = str(uuid.uuid4())
    result = workflow.apply_async(task_id=wanted)
    assert result.id == wanted and result.get(timeout=20) == 9


def test_freeze_gives_the_body_chains_last_task_id_and_the_send_keeps_it(tasks):
    add, tsum = tasks
    workflow = _workflow(add, tsum)
    wanted = str(uuid.uuid4())
    assert workflow.freeze(wanted).id == wanted
    result = workflow.apply_async()
    assert result.id == wanted and result.get(timeout=20) == 9


@pytest.mark.parametrize("settled", [False, True])
@pytest.mark.parametrize("body", ["group", "chord"])
def test_a_body_of_immutable_tasks_raises_the_failed_headers_error_from_get(tasks, body, settled):
    """test_chord_error_propagation_with_different_body_types: the body's tasks get a ChordError, get() the header's.
    ``settled``: get() is called once every step has ended, when the body's own header holds a ChordError too:
    the earliest failed step's error wins, as Celery walks the parents from the chain's first step."""
    add, _ = tasks
    fail = add.app.tasks["cr.fail"]
    second = group(add.si(1, 1), add.si(2, 2)) if body == "group" else chord(group(add.si(1, 1)), add.si(3, 3))
    result = chain(group(add.si(15, 7), fail.si()), second).apply_async()
    if settled:
        steps = [result]
        while steps[-1].parent is not None:
            steps.append(steps[-1].parent)
        wait_until(lambda: all(step.ready() for step in steps), 20, "every step of the chain to end")
    with pytest.raises(KeyError, match="header failed"):
        result.get(timeout=20)


def test_a_group_bodys_result_names_only_its_own_tasks_and_the_header(tasks):
    add, _ = tasks
    result = chord(group(add.si(1, 0), add.si(2, 0)), group(add.si(3, 0), add.si(4, 0))).apply_async()
    assert result.get(timeout=20) == [3, 4]
    ids = list(_ids(result.as_tuple()))
    assert len(ids) == len(set(ids)) == 6, ids  # two group ids and four tasks: the header is not repeated


def _ids(node):
    """Every id in a result's ``as_tuple()``, as Celery's suite walks it (its ``ids_in_as_tuple``)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _ids(item)


def test_call_time_args_of_a_chain_starting_with_a_chord_go_to_its_header(tasks):
    add, tsum = tasks
    workflow = chain(chord([add.s(1), add.s(2)], tsum.s()), add.s(10))
    assert workflow.apply_async(args=(5,)).get(timeout=20) == 6 + 7 + 10
