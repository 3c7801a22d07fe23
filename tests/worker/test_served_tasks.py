"""The served-task registry (worker/served.py, adapters/worker_registry.py): a name some live worker serves is known
to the look for unknown task names (worker/unknown.py) without asking that worker anything, so a worker that is
slow to answer control requests keeps its jobs; a name nobody serves is still failed."""

from __future__ import annotations

import json
import threading

import pytest

from taskora import Taskora
from taskora.adapters.base import CONNECTION_ERRORS
from taskora.redis import redis_adapter
from taskora.worker.control import ControlHandler, ControlServer
from taskora.worker.reconnect import OUTAGE, address_of
from taskora.worker.served import ServedTasks, on_tasks_changed
from taskora.worker.unknown import UnknownTasks

from ..redis_server import RedisServer
from ..waiting import wait_until


def _waiting_job_of_a_name_this_app_cannot_run(app: Taskora) -> tuple[str, str]:
    """A job sent under ``ghost`` (a producer-side task here, as a contract is); returns (queue, job id)."""
    ghost = app.register_task("ghost", None)
    handle = ghost.dispatch(1)
    app.adapter.note_queue_task(ghost.options.queue, "ghost")
    return ghost.options.queue, handle.id


def test_a_name_a_live_worker_serves_keeps_its_jobs_and_is_failed_once_that_worker_stops(app):
    queue, job_id = _waiting_job_of_a_name_this_app_cannot_run(app)
    unknown = UnknownTasks(app, lambda: [queue], "here@test")
    other = ServedTasks(app.adapter, lambda: ["ghost", "other"])  # a worker with no control listener at all
    other.start()
    try:
        assert unknown.check_once() == 0
        assert app.adapter.counts("ghost")["waiting"] == 1
    finally:
        other.stop()
    assert app.adapter.served_by_live_workers() == set()
    assert unknown.check_once() == 1
    assert app.adapter.get_job("ghost", job_id)["state"] == "failed"


def test_a_worker_that_stopped_beating_is_forgotten_when_its_names_lapse(app):
    app.adapter.publish_served("wlive", ["a", "b"], 60_000)
    app.adapter.publish_served("wdead", ["b", "c"], 50)
    wait_until(lambda: app.adapter.served_by_live_workers() == {"a", "b"}, what="the dead worker's names to lapse")
    app.adapter.withdraw_served("wlive")
    assert app.adapter.served_by_live_workers() == set()


def test_names_change_with_the_next_beat(app):
    names = ["a"]
    served = ServedTasks(app.adapter, lambda: names)
    served.start()
    try:
        assert app.adapter.served_by_live_workers() == {"a"}
        names[:] = ["a", "b"]  # add_consumer: the control handler's task names grew
        wait_until(lambda: app.adapter.served_by_live_workers() == {"a", "b"}, what="the new names")
    finally:
        served.stop()


@pytest.mark.cluster
def test_the_registry_works_on_a_redis_cluster(cluster_url):
    adapter = redis_adapter(cluster_url)
    try:
        for n in range(8):  # ids whose keys land on different slots
            adapter.publish_served(f"w{n}", [f"t{n}"], 60_000)
        adapter.publish_served("wdead", ["gone"], 50)
        wait_until(lambda: adapter.served_by_live_workers() == {f"t{n}" for n in range(8)},
                   what="every live worker's names, and not the dead one's")
        adapter.withdraw_served("w0")
        assert "t0" not in adapter.served_by_live_workers()
    finally:
        adapter.close()


def test_a_control_command_that_changes_the_names_writes_them_before_it_replies(app):
    handler = ControlHandler(app, ["a"], "here@test", pool="threads", concurrency=1, active=list, stats=dict)
    served = ServedTasks(app.adapter, lambda: handler.task_names)  # not started: no beat, only what changes write
    on_tasks = on_tasks_changed(handler, served)

    class AddsB:  # what LiveOps.add_consumer does: tells on_tasks the new names, then replies
        def handle(self, command: str, args: dict) -> dict:
            on_tasks(["a", "b"])
            assert app.adapter.served_by_live_workers() == {"a", "b"}  # written before the reply below
            return {"ok": "add consumer b"}

    handler.ops = AddsB()
    served.refresh()
    assert app.adapter.served_by_live_workers() == {"a"}
    ControlServer(app, handler)._answer(json.dumps({"id": "r1", "command": "add_consumer", "args": {"queue": "b"}}))
    assert app.adapter.served_by_live_workers() == {"a", "b"}
    assert handler.cmd_registered() == ["a", "b"]
    served.stop()
    assert app.adapter.served_by_live_workers() == set()


def test_the_control_listener_only_answers_the_worker_writes_the_names(app):
    """A ControlServer alone writes no names (beat's node listens too and serves no task); the worker's ServedTasks
    does, and the listener answers ``registered`` meanwhile."""
    handler = ControlHandler(app, ["a"], "here@test", pool="threads", concurrency=1, active=list, stats=dict)
    server = ControlServer(app, handler)
    server.start()
    try:
        wait_until(lambda: "here@test" in app.broadcast("ping", timeout=0.2), what="the listener to answer")
        assert app.adapter.served_by_live_workers() == set()
        served = ServedTasks(app.adapter, lambda: handler.task_names)
        served.start()
        assert app.adapter.served_by_live_workers() == {"a"}
        served.stop()
    finally:
        server.stop()


def test_after_redis_was_unreachable_the_look_waits_until_other_workers_could_write_again() -> None:
    # Their names may have lapsed during the outage: until they had time to beat, a name is not judged unknown
    with RedisServer(extra_args=("--appendonly", "yes", "--appendfsync", "always")) as server:
        app = Taskora(server.url)
        try:
            queue, _job_id = _waiting_job_of_a_name_this_app_cannot_run(app)
            unknown = UnknownTasks(app, lambda: [queue], "here@test")
            server.stop()
            with pytest.raises(CONNECTION_ERRORS):
                unknown._look()
            server.start()
            wait_until(lambda: _answers(app), what="Redis to answer again")
            unknown._look()  # nobody serves 'ghost', but other workers' names are not back yet: nothing failed
            assert app.adapter.counts("ghost")["waiting"] == 1
            assert unknown.check_once() == 1  # the look itself, once the quiet time is over
        finally:
            app.close()


def _answers(app: Taskora) -> bool:
    try:
        return app.adapter.counts("ghost") is not None
    except CONNECTION_ERRORS:
        return False


def test_a_beat_that_read_the_names_before_a_change_does_not_write_over_it(app):
    """A beat reads the names, then writes them. When ``cancel_consumer`` changes the names and writes them in
    between, the beat's older write must not land after it: the dropped name would stay served until the next beat
    (seen in the CLI's cancel_consumer test under load)."""
    names = ["a", "b"]
    beat_read, release_beat = threading.Event(), threading.Event()

    class BeatHeldAtItsWrite:  # the adapter, with the first write (the beat's) held until the change is made
        def __init__(self, adapter):
            self.adapter, self.first = adapter, True

        def publish_served(self, worker_id, served_names, ttl_ms):
            if self.first:
                self.first = False
                beat_read.set()
                release_beat.wait(5)
            self.adapter.publish_served(worker_id, served_names, ttl_ms)

    served = ServedTasks(BeatHeldAtItsWrite(app.adapter), lambda: list(names))
    beat = threading.Thread(target=served.publish)
    beat.start()
    assert beat_read.wait(5)
    names[:] = ["b"]  # cancel_consumer dropped the tasks of "a"
    change = threading.Thread(target=served.refresh)
    change.start()
    change.join(0.3)  # writes one at a time: it waits for the beat's (without that, it is done by now)
    release_beat.set()
    beat.join(5)
    change.join(5)
    assert app.adapter.served_by_live_workers() == {"b"}
    app.adapter.withdraw_served(served.worker_id)


def test_a_stop_that_cut_its_connections_leaves_the_names_to_lapse(app):
    # A stop that found Redis silent cut the connections (stop_wake.py): withdrawing the names would only wait out
    # the cut's timeout, a second added to the stop; they lapse by themselves within SERVED_TTL_S.
    served = ServedTasks(app.adapter, lambda: ["kept"])
    served.start()
    OUTAGE.cut(address_of(app.adapter))
    try:
        served.stop()
    finally:
        OUTAGE.reset()
    assert app.adapter.served_by_live_workers() == {"kept"}
