"""Workers write the per-minute throughput counters TypeScript taskora writes (recording 22), inside the
ack/fail scripts, so either language's board charts either language's work."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from taskora import Taskora
from taskora.adapters.redis import ClaimedJob, Completion, EnqueueRequest
from taskora.errors import JobFailedError
from taskora.memory import memory_adapter
from taskora.redis import redis_adapter
from tests.interop.recording import load

BUCKET = re.compile(r"^(?P<name>.*:metrics:(completed|failed)):(?P<bucket>\d+)$")
DAY_MS = 86_400_000


@pytest.fixture(params=[1, 8], ids=["one-slot-ack", "many-slots-ack_many"])
def concurrency(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def conf22(adapter_kind: str, request: pytest.FixtureRequest) -> Any:
    """An app on the recording's prefix, on the parametrised engine."""
    if adapter_kind == "redis":
        adapter = redis_adapter(request.getfixturevalue("redis_url"), prefix="conf22")
    else:
        adapter = memory_adapter(prefix="conf22")
    app = Taskora(adapter)
    yield app
    app.close(timeout=5)


def metric_keys(dump: dict[str, Any]) -> dict[str, Any]:
    """Counter keys with their bucket made generic (the recording's ``volatile``), values summed per name."""
    found: Counter[str] = Counter()
    types = {}
    for key, entry in dump.items():
        match = BUCKET.match(key)
        if match:
            found[f"{match['name']}:<bucket>"] += int(entry["value"])
            types[f"{match['name']}:<bucket>"] = entry["type"]
    return {name: (types[name], count) for name, count in found.items()}


def dump_metrics(app: Taskora) -> dict[str, Any]:
    client = app.adapter.raw_client()
    dump = {}
    for raw in client.scan_iter(match="taskora:conf22:*metrics*"):
        key = raw.decode() if isinstance(raw, bytes) else raw
        value = client.get(key)
        dump[key] = {"type": "string", "value": value.decode() if isinstance(value, bytes) else value,
                     "pttl": client.pttl(key)}
    return dump


def run_recorded_scenario(app: Taskora, concurrency: int) -> list[str]:
    """Tasks 'ok' (returns v) and 'bad' (one attempt, raises); dispatch ok 1, ok 2, bad 3; run them all."""
    ok = app.task("ok", lambda data: data["v"], concurrency=concurrency)

    def bad(data: Any) -> None:
        raise ValueError("bad")

    bad_task = app.task("bad", bad, retry={"attempts": 1}, concurrency=concurrency)
    handles = [ok.dispatch({"v": 1}), ok.dispatch({"v": 2}), bad_task.dispatch({"v": 3})]
    app.start()
    assert [handles[0].result(timeout=10), handles[1].result(timeout=10)] == [1, 2]
    with pytest.raises(JobFailedError):
        handles[2].result(timeout=10)
    return [h.id for h in handles]


def test_counters_match_the_typescript_recording(conf22: Taskora, concurrency: int) -> None:
    recorded = load("22-metrics-counters").after
    run_recorded_scenario(conf22, concurrency)

    dump = dump_metrics(conf22)

    assert metric_keys(dump) == metric_keys(recorded)
    assert metric_keys(dump) == {"taskora:conf22:{ok}:metrics:completed:<bucket>": ("string", 2),
                                 "taskora:conf22:{bad}:metrics:failed:<bucket>": ("string", 1)}
    for key, entry in dump.items():
        assert 0 < entry["pttl"] <= DAY_MS, f"{key} must expire within a day, has pttl {entry['pttl']}"


def test_a_counter_bucket_is_the_minute_the_job_finished(conf22: Taskora) -> None:
    ids = run_recorded_scenario(conf22, 1)

    tasks = ["ok", "ok", "bad"]
    expected: Counter[str] = Counter()
    for task, job_id in zip(tasks, ids, strict=True):
        finished = int(conf22.adapter.get_job(task, job_id)["finishedOn"])
        kind = "completed" if task == "ok" else "failed"
        expected[f"taskora:conf22:{{{task}}}:metrics:{kind}:{finished // 60_000 * 60_000}"] += 1
    assert {key: int(entry["value"]) for key, entry in dump_metrics(conf22).items()} == dict(expected)


def test_a_retried_attempt_is_not_counted_as_failed(conf22: Taskora) -> None:
    """As in TypeScript taskora, only a permanent failure counts; an attempt that will run again does not."""
    attempts: list[int] = []

    def flaky(data: Any, ctx: Any) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ValueError("first attempt fails")
        return "ok"

    task = conf22.task("flaky", flaky, retry={"attempts": 2, "delay": 0})
    conf22.start()
    assert task.dispatch(None).result(timeout=10) == "ok"

    assert attempts == [1, 2]
    assert metric_keys(dump_metrics(conf22)) == {"taskora:conf22:{flaky}:metrics:completed:<bucket>": ("string", 1)}


def test_a_batch_counts_the_completions_it_records_and_no_lost_one(conf22: Taskora) -> None:
    """``ack_many`` counts each completion it records (lua/lib/complete.lua), not the ones it refused, and a
    completion whose result nobody reads leaves nothing of its job behind, lock included."""
    conf22.task("ok", lambda data: data)
    conf22.adapter.enqueue_many([EnqueueRequest("ok", f"job-{i}", b"null") for i in range(3)])
    claimed = conf22.adapter.ack_many("ok", [], claim=2, token="t1", lock_ttl_ms=30_000).jobs
    refused = Completion(ClaimedJob("ok", "job-2", "not-its-token", {}), b'"x"')

    batch = conf22.adapter.ack_many("ok", [Completion(claimed[0], b'"a"'), Completion(claimed[1], b'"b"', keep=False),
                                           refused], claim=0, token="t2", lock_ttl_ms=30_000)  # fmt: skip

    assert batch.statuses == ["ok", "ok", "lost"]
    assert metric_keys(dump_metrics(conf22)) == {"taskora:conf22:{ok}:metrics:completed:<bucket>": ("string", 2)}
    assert all(0 < entry["pttl"] <= DAY_MS for entry in dump_metrics(conf22).values())
    assert not conf22.adapter.raw_client().keys("taskora:conf22:{ok}:job-1*")
