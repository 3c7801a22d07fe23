# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A chord's result id is its body's (a body chain's last task's), as Celery's ``chord.freeze(id)`` and
``chord.apply_async(task_id=id)`` give it (test_canvas.py's ``test_chain_of_implicit_chords_as_body``)."""

from __future__ import annotations

import json
import uuid

import pytest
from taskora.compat import chain, chord, group, signature

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
