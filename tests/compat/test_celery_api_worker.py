"""``celery.worker.control`` custom commands and ``celery.worker.state`` through a live ``taskora worker -A``.

Redis only: the control channel is pub/sub between processes.
"""

from __future__ import annotations

import pytest
from taskora.compat import Celery
from taskora.compat.worker import control as worker_control

from .celery_helpers import control_worker, wait_until

PROJECT = '''
    import os
    import time

    from taskora.compat import Celery
    from taskora.compat.worker import state as worker_state
    from taskora.compat.worker.control import control_command, inspect_command

    app = Celery("control_proj", broker=os.environ["REDIS_URL"])


    @app.task
    def add(x, y):
        return x + y


    @app.task
    def hold(path):
        while not os.path.exists(path):  # released by the test creating the file
            time.sleep(0.02)
        return "released"


    @control_command(args=[("n", int)], visible=False)
    def double(state, n, **kwargs):
        return {"doubled": n * 2, "node": state.hostname, "app": state.app.main}


    @inspect_command()
    def succeeded_here(state, **kwargs):
        return {"ids": sorted(worker_state.successful_requests), "total": worker_state.all_total_count[0]}


    @control_command()
    def explode(state, **kwargs):
        raise RuntimeError("explode on purpose")
'''


@pytest.fixture
def worker_and_client(tmp_path, redis_url):
    with control_worker(tmp_path, "control_proj", PROJECT, redis_url, "-P", "threads", "-c", "2") as worker_and_client:
        yield worker_and_client


def test_a_custom_control_command_answers_through_broadcast(worker_and_client):
    worker, client = worker_and_client
    replies = client.control.broadcast("double", arguments={"n": 21}, reply=True, timeout=5)
    assert replies == [{worker.hostname: {"doubled": 42, "node": worker.hostname, "app": "control_proj"}}]
    assert client.control.broadcast("double", arguments={"n": 1}, reply=False) is None


def test_worker_state_counts_the_tasks_the_worker_ran(worker_and_client):
    worker, client = worker_and_client
    client.send_task("control_proj.add", (1, 2)).get(timeout=10)
    result = client.send_task("control_proj.add", (3, 4))
    assert result.get(timeout=10) == 7
    [reply] = client.control.broadcast("succeeded_here", reply=True, timeout=5)
    assert result.id in reply[worker.hostname]["ids"] and reply[worker.hostname]["total"] == 2


def test_a_failing_or_unknown_command_replies_an_error(worker_and_client):
    worker, client = worker_and_client
    [failed] = client.control.broadcast("explode", reply=True, timeout=5)
    assert "explode on purpose" in failed[worker.hostname]["error"]
    [unknown] = client.control.broadcast("no_such_command", reply=True, timeout=5)
    assert "unknown control command 'no_such_command'" in unknown[worker.hostname]["error"]
    assert "double" in unknown[worker.hostname]["error"]


def test_registry_and_bad_broadcast_input(redis_url):
    assert worker_control.Panel.meta["add_consumer"].type == "control"
    client = Celery("control_proj", broker=redis_url)
    try:
        with pytest.raises(ValueError, match="command name"):
            client.control.broadcast("")
        with pytest.raises(ValueError, match="arguments must be a dict"):
            client.control.broadcast("ping", arguments=[1])
    finally:
        client.close()


def test_built_in_commands_cannot_be_replaced():
    with pytest.raises(ValueError, match="built in"):
        worker_control.control_command(name="ping")(lambda state: "mine")


def test_inspect_clock_queues_query_task_report_and_conf(worker_and_client, tmp_path):
    worker, client = worker_and_client
    node = worker.hostname
    inspect = client.control.inspect(timeout=5)
    first, second = inspect.clock()[node]["clock"], inspect.clock()[node]["clock"]
    assert 0 < first < second
    [queue] = inspect.active_queues()[node]
    assert queue["name"] == "celery" and queue["exchange"]["name"] == "celery" and queue["routing_key"] == "celery"
    release = tmp_path / "release"
    held = client.send_task("control_proj.hold", (str(release),))
    try:
        def running():
            return inspect.query_task(held.id)[node]

        answer = wait_until(running, 10, "the held task to be active")
        state, request = answer[held.id]
        assert state == "active" and request["id"] == held.id and request["name"] == "control_proj.hold"
        assert inspect.query_task("no-such-id")[node] == {}
    finally:
        release.touch()
    assert held.get(timeout=10) == "released"
    assert "software -> celery:" in inspect.report()[node]["ok"]
    settings = inspect.conf(with_defaults=True)[node]
    assert settings["broker_url"].startswith("redis://") and "timezone" in settings
