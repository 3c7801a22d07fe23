"""``app.control`` live worker commands of a Celery project, against a real ``taskora worker -A cproj``:
``add_consumer``/``cancel_consumer`` (seen through ``inspect().active_queues()``), ``pool_grow``/``pool_shrink``
(seen through ``stats()``) and ``time_limit`` by Celery task name, each with Celery's reply."""

from __future__ import annotations

import sys
import uuid

import pytest
from taskora.compat.exceptions import SoftTimeLimitExceeded

from .celery_helpers import CeleryWorker, import_project

PROJECT = '''
import os
import time

from taskora.compat import Celery

app = Celery("cproj", broker=os.environ["REDIS_URL"])
app.conf.task_default_queue = "default"


@app.task(bind=True)
def where(self):
    return self.request.hostname


@app.task
def nap(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return "rested"
'''


@pytest.fixture
def cproj(tmp_path, redis_url, monkeypatch):
    client = import_project(tmp_path, "cproj", PROJECT, redis_url, monkeypatch).app
    worker = CeleryWorker(tmp_path, "cproj", redis_url, f"live{uuid.uuid4().hex[:6]}@test", "-P", "threads",
                          "-c", "1")
    try:
        worker.wait_ready(client)
        yield client, worker.hostname
    finally:
        worker.stop()
        client.close()
        sys.modules.pop("cproj", None)


def _queues(client, host):
    return [q["name"] for q in client.control.inspect(destination=[host], timeout=5).active_queues()[host]]


def test_add_and_cancel_consumer_as_celery(cproj):
    client, host = cproj
    from cproj import where

    assert _queues(client, host) == ["default"]
    moved = where.apply_async(queue="extra")
    assert client.control.add_consumer("extra", destination=[host], reply=True, timeout=5) == [
        {host: {"ok": "add consumer extra"}}]
    assert moved.get(timeout=20) == host
    assert _queues(client, host) == ["default", "extra"]
    assert client.control.cancel_consumer("extra", destination=[host], reply=True, timeout=5) == [
        {host: {"ok": "no longer consuming from extra"}}]
    assert _queues(client, host) == ["default"]


def test_pool_grow_shrink_and_time_limit_as_celery(cproj):
    client, host = cproj
    from cproj import nap

    def size():
        return client.control.inspect(destination=[host], timeout=5).stats()[host]["pool"]["max-concurrency"]

    assert client.control.pool_grow(2, destination=[host], reply=True, timeout=5) == [{host: {"ok": "pool will grow"}}]
    assert size() == 3
    assert client.control.pool_shrink(destination=[host], reply=True, timeout=5) == [
        {host: {"ok": "pool will shrink"}}]
    assert size() == 2
    assert client.control.time_limit("cproj.nobody", soft=1, destination=[host], reply=True, timeout=5) == [
        {host: {"error": "unknown task"}}]
    assert client.control.time_limit("cproj.nap", soft=0.3, destination=[host], reply=True, timeout=5) == [
        {host: {"ok": "time limits set successfully"}}]
    with pytest.raises(SoftTimeLimitExceeded):
        nap.delay(3).get(timeout=20)


def test_autoscale_without_autoscale_is_celerys_error(cproj):
    client, host = cproj
    assert client.control.autoscale(4, 2, destination=[host], reply=True, timeout=5) == [
        {host: {"error": "ValueError('Autoscale not enabled')"}}]


def test_autoscale_changes_the_bounds_of_an_autoscaled_worker(cproj, tmp_path, redis_url):
    client, _host = cproj
    scaled = CeleryWorker(tmp_path, "cproj", redis_url, f"scaled{uuid.uuid4().hex[:6]}@test", "-P", "threads",
                          "--autoscale", "3,1")
    try:
        scaled.wait_ready(client)
        host = scaled.hostname
        assert client.control.autoscale(5, 2, destination=[host], reply=True, timeout=5) == [
            {host: {"ok": "autoscale now max=5 min=2"}}]
        stats = client.control.inspect(destination=[host], timeout=5).stats()[host]
        assert stats["autoscaler"] == {"max": 5, "min": 2, "qty": 2}  # grown to the new MIN at once, as Celery
    finally:
        scaled.stop()
