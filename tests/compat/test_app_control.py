"""``app.control.inspect()`` against a live ``taskora worker -A`` subprocess (the control channel).

Redis only: the control channel is pub/sub between processes.
"""

from __future__ import annotations

import pytest
from taskora.compat import states

from .celery_helpers import control_worker, wait_until

PROJECT = '''
    import os
    import time

    from taskora.compat import Celery

    app = Celery("inspect_proj", broker=os.environ["REDIS_URL"])


    @app.task
    def add(x, y):
        return x + y


    @app.task
    def hold(path):
        while not os.path.exists(path):  # released by the test creating the file
            time.sleep(0.02)
        return "released"
'''


@pytest.fixture
def worker_and_client(tmp_path, redis_url):
    with control_worker(tmp_path, "inspect_proj", PROJECT, redis_url, "-P", "threads", "-c", "2") as worker_and_client:
        yield worker_and_client


def test_ping_stats_and_registered_come_from_the_live_worker(worker_and_client):
    worker, client = worker_and_client
    inspect = client.control.inspect(timeout=2)
    node = worker.hostname
    assert inspect.ping() == {node: {"ok": "pong"}}
    assert client.control.ping(timeout=2) == [{node: {"ok": "pong"}}]
    stats = inspect.stats()[node]
    assert stats["pid"] == worker.proc.pid and stats["pool"]["max-concurrency"] == 2
    assert stats["pool"]["implementation"] == "threads" and "processed" in stats["total"]
    registered = inspect.registered()[node]
    assert {"inspect_proj.add", "inspect_proj.hold"} <= set(registered)
    assert all("::" not in name for name in registered)
    # a destination nobody answers to: Celery's None
    assert client.control.inspect(destination=["nobody@nowhere"], timeout=0.3).ping() is None


def test_active_and_scheduled_list_the_workers_jobs(worker_and_client, tmp_path):
    worker, client = worker_and_client
    node = worker.hostname
    flag = tmp_path / "release"
    running = client.send_task("inspect_proj.hold", args=[str(flag)])
    later = client.send_task("inspect_proj.add", args=[1, 2], countdown=60)
    inspect = client.control.inspect(timeout=2)
    active = wait_until(lambda: [r for r in (inspect.active() or {}).get(node, []) if r["id"] == running.id])
    assert active[0]["name"] == "inspect_proj.hold" and active[0]["args"] == [str(flag)]
    assert active[0]["hostname"] == node and active[0]["time_start"] > 0
    scheduled = inspect.scheduled()[node]
    entry = next(e for e in scheduled if e["request"]["id"] == later.id)
    assert entry["request"]["name"] == "inspect_proj.add" and entry["request"]["args"] == [1, 2]
    assert entry["eta"] and later.state == states.PENDING
    flag.write_text("go")
    assert running.get(timeout=10) == "released"


def test_a_name_no_worker_knows_waits_as_a_job_and_shows_as_reserved(worker_and_client):
    worker, client = worker_and_client
    result = client.send_task("billing.charge", args=[42], kwargs={"currency": "EUR"})
    reserved = client.control.inspect(timeout=2).reserved()["taskora@store"]
    entry = next(e for e in reserved if e["id"] == result.id)
    assert entry["name"] == "billing.charge" and entry["args"] == [42] and entry["kwargs"] == {"currency": "EUR"}
    # no live worker runs it (nor claims it): it stays PENDING and is not in any worker's lists
    assert result.state == states.PENDING
    assert "billing.charge" not in client.control.inspect(timeout=2).registered()[worker.hostname]


def test_a_destination_leaves_the_store_out_and_limit_ends_the_wait_early(worker_and_client, redis_url):
    """Celery's ``inspect(destination=..., limit=...)``: only the named nodes answer, and the answer is complete
    once ``limit`` replies came, even with a listener that never replies (here a bare subscriber)."""
    import time

    import redis

    worker, client = worker_and_client
    client.send_task("billing.charge", args=[1])
    node = worker.hostname
    assert set(client.control.inspect(timeout=2, destination=[node]).reserved()) == {node}
    assert set(client.control.inspect(timeout=2, destination=[node, "taskora@store"]).reserved()) == {
        node, "taskora@store"}
    silent = redis.Redis.from_url(redis_url).pubsub()
    silent.subscribe(client.__taskora_app__.adapter.keys.control_channel)
    try:
        began = time.monotonic()
        assert client.control.inspect(timeout=3, limit=1).ping() == {node: {"ok": "pong"}}
        assert time.monotonic() - began < 2.5  # not the 3 s a silent listener makes a limitless ask wait
    finally:
        silent.close()
