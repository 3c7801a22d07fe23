"""``AsyncResult.children``, ``iterdeps()`` and ``collect()`` as Celery's (celery/result.py), on results of a real
``taskora worker`` running a Celery project whose tasks send tasks."""

from __future__ import annotations

import sys
import uuid

import pytest
from taskora.compat.exceptions import IncompleteStream

from .celery_helpers import CeleryWorker, import_project

PROJECT = '''
import os

from taskora.compat import Celery

app = Celery("kidsproj", broker=os.environ["REDIS_URL"])


@app.task
def square(i):
    return i * i


@app.task(bind=True)
def fan(self, n):
    self.update_state(state="PROGRESS", meta={"sending": n})
    for i in range(n):
        square.delay(i)
    return n


@app.task
def tree():
    fan.delay(2)
    return "root"
'''


@pytest.fixture
def kids(tmp_path, redis_url, monkeypatch):
    module = import_project(tmp_path, "kidsproj", PROJECT, redis_url, monkeypatch)
    worker = CeleryWorker(tmp_path, "kidsproj", redis_url, f"kids{uuid.uuid4().hex[:6]}@test", "-P", "threads",
                          "-c", "4")
    try:
        worker.wait_ready(module.app)
        yield module
    finally:
        worker.stop()
        module.app.close()
        sys.modules.pop("kidsproj", None)


def test_children_are_the_tasks_a_task_sent(kids):
    parent = kids.fan.delay(3)
    assert parent.get(timeout=20) == 3
    children = parent.children
    assert [child.get(timeout=20) for child in children] == [0, 1, 4]
    assert all(child.name == "kidsproj.square" for child in children)
    assert children[0].children == []  # finished, sent nothing


def test_collect_walks_the_tree_breadth_first_waiting_for_each(kids):
    root = kids.tree.delay()
    pairs = [(result.name, value) for result, value in root.collect(timeout=20)]
    assert pairs == [("kidsproj.tree", "root"), ("kidsproj.fan", 2), ("kidsproj.square", 0), ("kidsproj.square", 1)]


def test_a_result_not_ready_has_no_children_and_stops_iterdeps(kids):
    waiting = kids.app.send_task("kidsproj.nobody_runs_this")
    assert waiting.children is None
    steps = waiting.iterdeps()
    assert next(steps) == (None, waiting)
    with pytest.raises(IncompleteStream):
        next(steps)
    assert [node for _parent, node in waiting.iterdeps(intermediate=True)] == [waiting]
