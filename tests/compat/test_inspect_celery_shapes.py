"""``app.control.inspect()`` answers in Celery 5.7's exact shapes, from a live ``taskora worker -A -P prefork``.

What Celery's own integration suite (t/integration/test_inspect.py) and monitoring tools compare key by
key: request dicts (``Request.info()``), scheduled entries, ``stats()['pool']``, ``registered('attr')``
strings, ``revoked()`` keyed by the worker's node name, ``hello`` (mingle) and ``conf()``.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from taskora.compat import Celery, states
from taskora.compat.contrib.testing.worker import start_worker

from .celery_helpers import control_worker, wait_until

PROJECT = '''
    import os
    import time

    from taskora.compat import Celery

    app = Celery("shapes_proj", broker=os.environ["REDIS_URL"])
    app.conf.task_acks_late = False


    @app.task
    def add(x, y):
        return x + y


    @app.task(rate_limit="100/s")
    def limited():
        return "ok"


    @app.task
    def hold(path):
        while not os.path.exists(path):  # released by the test creating the file
            time.sleep(0.02)
        return "released"
'''


@pytest.fixture
def worker_and_client(tmp_path, redis_url):
    with control_worker(tmp_path, "shapes_proj", PROJECT, redis_url, "-P", "prefork", "-c", "1") as worker_and_client:
        yield worker_and_client


def _inspect(client):
    return client.control.inspect(timeout=3)


def test_registered_lists_names_and_with_attributes_celerys_strings(worker_and_client):
    worker, client = worker_and_client
    plain = _inspect(client).registered()[worker.hostname]
    # Celery's default attributes (exchange, routing_key, rate_limit): only a task setting one shows it
    assert "shapes_proj.add" in plain and "shapes_proj.limited [rate_limit=100/s]" in plain
    assert not any(name.startswith("celery.") for name in plain)
    named = _inspect(client).registered("name")[worker.hostname]
    assert "shapes_proj.add [name=shapes_proj.add]" in named
    assert all(entry.endswith("]") and " [name=" in entry for entry in named)


def test_active_and_query_task_give_celerys_request_info(worker_and_client, tmp_path):
    worker, client = worker_and_client
    flag = tmp_path / "release"
    running = client.send_task("shapes_proj.hold", args=[str(flag)], priority=3)
    node = worker.hostname
    active = wait_until(lambda: (_inspect(client).active() or {}).get(node))
    [request] = active
    child_pids = _inspect(client).stats()[node]["pool"]["processes"]
    assert request == {
        "id": running.id, "name": "shapes_proj.hold", "type": "shapes_proj.hold", "args": [str(flag)], "kwargs": {},
        "hostname": node, "time_start": request["time_start"], "acknowledged": True,
        "delivery_info": {"exchange": "", "routing_key": "celery", "priority": 3, "redelivered": False},
        "worker_pid": child_pids[0],
    }
    assert time.time() - 30 < request["time_start"] <= time.time()
    assert _inspect(client).query_task(running.id)[node] == {running.id: ["active", {**request,
                                                                                   "time_start": pytest.approx(
                                                                                       request["time_start"], abs=5)}]}
    assert _inspect(client).query_task("no-such-id")[node] == {}
    flag.write_text("go")
    assert running.get(timeout=10) == "released"


def test_scheduled_keeps_the_eta_as_sent_and_celerys_timer_priority(worker_and_client):
    worker, client = worker_and_client
    eta = datetime.now(timezone.utc) + timedelta(seconds=60)
    later = client.send_task("shapes_proj.add", args=[1, 2], kwargs={}, eta=eta)
    [entry] = [e for e in _inspect(client).scheduled()[worker.hostname] if e["request"]["id"] == later.id]
    assert entry["eta"] == eta.isoformat() and entry["priority"] == 6
    request = entry["request"]
    assert request["acknowledged"] is False and request["time_start"] is None and request["worker_pid"] is None
    assert request["delivery_info"] == {"exchange": "", "routing_key": "celery", "priority": 0, "redelivered": False}


def test_stats_pool_lists_the_processes_running_tasks(worker_and_client):
    worker, client = worker_and_client
    stats = _inspect(client).stats()[worker.hostname]
    assert stats["pid"] == worker.proc.pid and stats["pool"]["max-concurrency"] == 1
    [child] = stats["pool"]["processes"]
    assert child != worker.proc.pid and isinstance(child, int)
    assert isinstance(stats["uptime"], int)


def test_revoked_is_keyed_by_the_worker_and_holds_ids_revoked_after_they_ran(worker_and_client):
    worker, client = worker_and_client
    done = client.send_task("shapes_proj.add", args=[1, 1])
    assert done.get(timeout=10) == 2
    waiting = client.send_task("shapes_proj.add", args=[2, 2], countdown=60)
    done.revoke()
    waiting.revoke()
    revoked = _inspect(client).revoked()
    assert set(revoked) == {worker.hostname}
    assert {done.id, waiting.id} <= set(revoked[worker.hostname])


def test_hello_hands_revoked_ids_over_and_answers_the_workers(worker_and_client):
    worker, client = worker_and_client
    received = [str(uuid.uuid4()) for _ in range(2)]
    ahead = time.monotonic() + 10**6  # another host's clock: the stamps are not kept
    reply = _inspect(client).hello("other@host", revoked={i: [ahead, n, i] for n, i in enumerate(received)})
    answer = reply[worker.hostname]
    assert set(received) <= set(answer["revoked"]) and answer["clock"] > 0
    assert set(received) <= set(_inspect(client).revoked()[worker.hostname])
    # a node does not answer its own hello
    assert _inspect(client).hello(worker.hostname) == {worker.hostname: None}


def test_conf_shows_the_task_modules_and_deprecated_settings(worker_and_client):
    worker, client = worker_and_client
    conf = _inspect(client).conf()[worker.hostname]
    assert "shapes_proj" in conf["include"] and conf["deprecated_settings"] == []
    assert conf["broker_url"].startswith("redis://") and conf["task_acks_late"] is False
    assert "task_serializer" not in conf and _inspect(client).conf(with_defaults=True)[worker.hostname][
        "task_serializer"] == "json"


def test_report_is_the_workers_bugreport(worker_and_client):
    worker, client = worker_and_client
    report = _inspect(client).report()[worker.hostname]["ok"]
    assert report.lstrip().startswith("software -> celery:") and "settings -> transport:redis" in report
    assert "kernel version:" in report and "loader   -> taskora.compat" in report  # Celery's bugreport layout


def test_commands_answer_from_the_workers_app_not_the_current_one(redis_url):
    """An embedded worker's ``inspect conf`` describes its own app, even after a test made another app current."""
    worker_app = Celery("worker_side", broker=redis_url)
    worker_app.conf.worker_side_marker = "mine"

    @worker_app.task
    def ping_me():
        return "pong"

    other = Celery("other_side", broker=redis_url)
    try:
        with start_worker(worker_app, perform_ping_check=False) as worker:
            other.set_current()
            other.set_default()  # the control thread falls back to the default app
            conf = other.control.inspect(timeout=3).conf()[worker.hostname]
            assert conf["worker_side_marker"] == "mine"
    finally:
        other.close()
        worker_app.close()



def test_revoke_with_reply_returns_the_workers_answers_and_marks_ids_without_a_job(worker_and_client):
    worker, client = worker_and_client
    started_elsewhere, never_sent = str(uuid.uuid4()), str(uuid.uuid4())
    client.backend.store_result(started_elsewhere, {"hostname": "other@host"}, states.STARTED)
    replies = client.control.revoke([started_elsewhere, never_sent], reply=True, timeout=5)
    [answer] = replies
    assert set(answer) == {worker.hostname} and "flagged as revoked" in answer[worker.hostname]["ok"]
    assert client.backend.get_state(started_elsewhere) == states.STARTED  # that worker owns its state
    assert client.backend.get_state(never_sent) == states.REVOKED
    assert client.control.revoke(str(uuid.uuid4())) is None  # no reply asked: nothing awaited


def test_asyncresult_revoke_wait_asks_the_workers_without_a_timeout(worker_and_client):
    """``AsyncResult.revoke(wait=True)`` passes ``timeout=None`` (Celery's signature): the default wait applies."""
    worker, client = worker_and_client
    pending = client.send_task("shapes_proj.add", args=[1, 2], countdown=60)
    pending.revoke(wait=True)
    assert pending.state == states.REVOKED
    assert pending.id in _inspect(client).revoked()[worker.hostname]
