"""``app.events.State``: Celery's monitor state, bounded in every collection it keeps."""

from __future__ import annotations

import time

from taskora.compat import Celery, states
from taskora.compat.events import State


def _received(uuid, parent_id=None, name="proj.add", **fields):
    return {"type": "task-received", "uuid": uuid, "parent_id": parent_id, "name": name, "hostname": "w1@test",
            "timestamp": time.time(), "clock": 1, **fields}


def test_tasks_workers_and_unresolved_children_stay_within_their_bounds():
    state = State(max_tasks_in_memory=3, max_workers_in_memory=2)
    for n in range(50):
        state.event(_received(f"child{n}", parent_id=f"missing-parent{n}"))
        state.event({"type": "worker-heartbeat", "hostname": f"w{n}@test", "timestamp": time.time(), "freq": 2})
    assert len(state.tasks) == 3 and list(state.tasks) == ["child47", "child48", "child49"]
    assert len(state._tasks_to_resolve) <= 3
    assert len(state.workers) == 2
    assert (state.event_count, state.task_count) == (100, 50)


def test_a_child_seen_before_its_parent_is_linked_when_the_parent_arrives():
    state = State()
    state.event(_received("child", parent_id="parent"))
    assert "parent" in state._tasks_to_resolve
    state.event(_received("parent"))
    parent = state.tasks["parent"]
    assert [child.uuid for child in parent.children] == ["child"]
    assert state.tasks["child"].parent is parent
    assert "parent" not in state._tasks_to_resolve


def test_a_late_started_event_keeps_a_finished_task_finished():
    state = State()
    state.event(_received("t"))
    state.event({"type": "task-succeeded", "uuid": "t", "result": "3", "runtime": 0.1, "hostname": "w1@test",
                 "timestamp": time.time()})
    state.event({"type": "task-started", "uuid": "t", "hostname": "w1@test", "timestamp": time.time()})
    task = state.tasks["t"]
    assert (task.state, task.result, task.ready) == (states.SUCCESS, "3", True)
    assert task.started is not None and task.succeeded is not None


def test_reading_by_time_type_and_worker_and_clearing():
    state = State()
    for n, name in enumerate(["a", "b", "a"]):
        state.event(_received(f"t{n}", name=name, timestamp=100 + n))
    state.event({"type": "task-succeeded", "uuid": "t0", "hostname": "w1@test", "timestamp": 200})
    assert [uuid for uuid, _ in state.tasks_by_time()] == ["t0", "t2", "t1"]
    assert [uuid for uuid, _ in state.tasks_by_type("a", reverse=False)] == ["t2", "t0"]
    assert [uuid for uuid, _ in state.tasks_by_worker("w1@test", limit=1)] == ["t0"]
    assert state.task_types() == ["a", "b"]
    assert [w.hostname for w in state.alive_workers()] == ["w1@test"]
    assert state.freeze_while(lambda: len(state.tasks), clear_after=True) == 3
    assert (sorted(state.tasks), len(state.workers), state.event_count) == (["t1", "t2"], 0, 0)  # unfinished kept
    state.clear(ready=False)
    assert len(state.tasks) == 0


def test_worker_offline_ends_its_liveness_and_calls_on_node_leave():
    left = []
    state = State(on_node_leave=left.append)
    state.event({"type": "worker-online", "hostname": "w9@test", "timestamp": time.time(), "freq": 60})
    assert state.workers["w9@test"].alive
    state.event({"type": "worker-offline", "hostname": "w9@test", "timestamp": time.time()})
    assert not state.workers["w9@test"].alive and [w.hostname for w in left] == ["w9@test"]


def test_app_events_state_passes_its_bounds_through():
    app = Celery("proj", broker="memory://")
    try:
        state = app.events.State(max_tasks_in_memory=7)
        assert state.tasks.limit == 7 and state._tasks_to_resolve.limit == 7
    finally:
        app.close()
