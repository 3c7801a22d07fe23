"""Wire compatibility of concurrency keys and ttl with the TypeScript taskora, against its recordings
(tests/fixtures/interop/19-concurrency-key.json and 11-ttl-expiry.json), compared ignoring what they
list as volatile.

Two directions: a Python dispatch writes the job TypeScript writes, and a job state recorded from
TypeScript is run by a Python worker and leaves Redis as the TypeScript worker did.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from taskora import Taskora
from taskora.redis import redis_adapter
from tests.interop.recording import Recording, comparable, dump, load, restore, stream_fields
from tests.waiting import wait_until

#: Keys one side writes and the other does not, by design: the Python worker's liveness key, and the
#: per-minute metrics counters (not part of this engine yet; see docs/wire-format.md).
#: Not compared: our liveness keys, the metrics counters (checked by
#: tests/observability/test_metrics_counters.py), and the wake-up marker, whose members at a mid-run
#: snapshot depend on when each idle slot last woke.
NOT_COMPARED = (":alive:", ":metrics:", ":marker")


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def make_app(redis_url: str) -> Iterator[Any]:
    apps: list[Taskora] = []

    def make(prefix: str) -> Taskora:
        apps.append(Taskora(redis_adapter(redis_url, prefix=prefix)))
        return apps[-1]

    yield make
    for app in apps:
        app.close(timeout=5)


def assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert comparable(ours, NOT_COMPARED) == comparable(theirs, NOT_COMPARED)
    mine = [fields for _, fields in stream_fields(ours)]
    for _, fields in stream_fields(theirs):  # every event field TypeScript wrote (ours may add fields)
        assert any(fields.items() <= entry.items() for entry in mine), fields


def job_ids(rec: Recording) -> list[str]:
    return [item["value"] for item in rec.data["driver_output"]
            if item["key"].startswith("id:") or item["key"] == "jobId"]


def test_a_python_dispatch_with_a_concurrency_key_writes_the_typescript_job(make_app, client) -> None:
    rec = load("19-concurrency-key")
    app = make_app("conf19")
    task = app.task("cc", lambda data: data)
    app.adapter.handshake()
    for v, job_id in enumerate(job_ids(rec), start=1):
        task.dispatch({"v": v}, job_id=job_id, concurrency_key="tenant-1", concurrency_limit=2)

    assert_same(dump(client, "conf19"), rec.snapshot("enqueued"))


def slow_value(data: dict[str, Any]) -> int:
    time.sleep(0.6)  # as the recorded handler: the third job must wait for a slot
    return int(data["v"])


def test_a_typescript_job_state_with_a_concurrency_key_runs_on_python_as_on_typescript(make_app, client) -> None:
    rec = load("19-concurrency-key")
    restore(client, rec.snapshot("enqueued"))
    app = make_app("conf19")
    app.task("cc", slow_value, concurrency=3)
    app.start()

    wait_until(lambda: client.llen("taskora:conf19:{cc}:active") == 2, 10, "two jobs of tenant-1 to start")
    assert_same(dump(client, "conf19"), rec.snapshot("two-active"))  # the third is held back
    wait_until(lambda: client.zcard("taskora:conf19:{cc}:completed") == 3, 10, "the three jobs to complete")
    app.close(timeout=5)

    assert_same(dump(client, "conf19"), rec.after)


def test_a_python_dispatch_with_a_ttl_writes_the_typescript_job(make_app, client) -> None:
    rec = load("11-ttl-expiry")
    app = make_app("conf11")
    task = app.task("ttlt", lambda data: data)
    app.adapter.handshake()
    task.dispatch({"n": 11}, job_id=job_ids(rec)[0], ttl=1.0)

    assert_same(dump(client, "conf11"), rec.before)


def test_a_typescript_job_past_its_ttl_is_expired_by_a_python_worker_as_by_typescript(make_app, client) -> None:
    rec = load("11-ttl-expiry")
    restore(client, rec.before)  # its expireAt is in 2026-12, already past
    app = make_app("conf11")
    ran = []
    app.task("ttlt", ran.append)
    app.start()

    wait_until(lambda: client.zcard("taskora:conf11:{ttlt}:expired") == 1, 10, "the job to expire")
    app.close(timeout=5)

    assert ran == []
    assert_same(dump(client, "conf11"), rec.after)
