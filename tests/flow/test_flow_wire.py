"""Flow control writes what TypeScript taskora writes: the recordings 16 (debounce), 17 (throttle) and
18 (deduplicate) of ../shared/interop (copied to tests/fixtures/interop), replayed here on both engines.

Each scenario is driven the way its recording says, under the recording's prefix and task name; then the
keyspace is compared with the recorded snapshot: key names (ids replaced by the order they appeared in),
types, hash fields and their values, string values, list/zset members, PTTL presence and bounds, and the
events (name, job, fields). The places the recording lists as ``volatile`` (ids, ms timestamps, scores,
remaining PTTLs) are compared by shape only. Additive fields of ours are allowed where wire-format.md says so.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from taskora import Taskora
from taskora.memory import memory_adapter
from taskora.redis import redis_adapter
from tests.interop.recording import UUID, Recording, load
from tests.interop.recording import dump as dump_keyspace

#: Hash fields holding ms timestamps: compared as "a number".
TIME_FIELDS = {"ts", "processedOn", "finishedOn", "writtenAt"}
#: Keys outside this feature whose layout other parts own (the handshake, metrics, worker liveness), and the
#: wake-up marker, whose member, score and lifetime are each engine's own business.
OTHER_KEYS = re.compile(r":meta$|:metrics:|:alive:|:marker$")


@pytest.fixture
def engine(adapter_kind: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Opens apps on the parametrised engine under a recording's prefix; closes them after the test."""
    apps: list[Taskora] = []

    def open_app(prefix: str) -> Taskora:
        if adapter_kind == "redis":
            adapter = redis_adapter(request.getfixturevalue("redis_url"), prefix=prefix)
        else:
            adapter = memory_adapter(prefix=prefix)
        apps.append(Taskora(adapter))
        return apps[-1]

    yield open_app
    for app in apps:
        app.close(timeout=5)


class Ids:
    """Replaces each id by its order of first appearance (``<id0>``, ``<id1>``...), so two runs compare."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        return UUID.sub(lambda m: self.seen.setdefault(m.group(0), f"<id{len(self.seen)}>"), text)


def dump(app: Taskora, prefix: str) -> dict[str, Any]:
    """The keyspace under ``prefix`` in the recordings' dump format (tests/interop/recording.py)."""
    return dump_keyspace(app.adapter.raw_client(), prefix)


def normalized(snapshot: dict[str, Any], ids: Ids) -> dict[str, Any]:
    """Ids renamed in order of appearance (events first: they list the jobs in dispatch order); times and
    volatile scores reduced to their shape; keys other features own left out."""
    events = [k for k in snapshot if k.endswith(":events")]
    for key in events:
        for entry in snapshot[key]["value"]:
            ids(json.dumps(entry["fields"]))
    out = {}
    for key, entry in snapshot.items():
        if OTHER_KEYS.search(key):
            continue
        out[ids(key)] = {"type": entry["type"], "value": _shape(entry["type"], entry["value"], ids),
                         "pttl": "none" if entry["pttl"] == -1 else "set"}  # fmt: skip
    return out


def _shape(kind: str, value: Any, ids: Ids) -> Any:
    if kind == "hash":
        return {name: ("<ms>" if name in TIME_FIELDS else ids(text)) for name, text in value.items()}
    if kind == "stream":
        return [{name: ids(text) for name, text in entry["fields"].items()} for entry in value]
    if kind == "zset":
        return sorted(ids(member) for member, _score in value)
    if kind == "list":
        return [ids(member) for member in value]
    return ids(value)


def assert_same_layout(ours: dict[str, Any], theirs: dict[str, Any], *, additive_event_fields: set[str]) -> None:
    assert sorted(ours) == sorted(theirs)
    for key, expected in theirs.items():
        got = ours[key]
        assert (key, got["type"], got["pttl"]) == (key, expected["type"], expected["pttl"])
        if got["type"] == "stream":
            trimmed = [{k: v for k, v in e.items() if k not in additive_event_fields} for e in got["value"]]
            assert trimmed == expected["value"], key
        else:
            assert got["value"] == expected["value"], key


def test_debounce_writes_what_typescript_writes(engine: Any) -> None:
    rec = load("16-debounce")
    app = engine("conf16")
    task = app.task("deb", lambda data: data["v"])
    handles = [task.dispatch({"v": v}, debounce={"key": "k1", "delay": 0.5}) for v in (1, 2, 3)]

    ours = dump(app, "conf16")
    assert 500 < ours["taskora:conf16:{deb}:debounce:k1"]["pttl"] <= 1000  # twice the window, as TS sets it
    assert ours["taskora:conf16:{deb}:delayed"]["value"][0][1] == int(
        ours[f"taskora:conf16:{{deb}}:{handles[2].id}"]["value"]["ts"]) + 500  # fmt: skip
    assert_same_layout(normalized(ours, Ids()), normalized(rec.snapshot("dispatched"), Ids()),
                       additive_event_fields=set())  # fmt: skip


def test_throttle_writes_what_typescript_writes(engine: Any) -> None:
    rec = load("17-throttle")
    app = engine("conf17")
    task = app.task("thr", lambda data: data["v"])
    handles = [task.dispatch({"v": v}, throttle={"key": "t1", "max": 2, "window": "2s"}) for v in (1, 2, 3)]

    assert [h.enqueued for h in handles] == [True, True, False]  # as driver_output records
    ours = dump(app, "conf17")
    assert 0 < ours["taskora:conf17:{thr}:throttle:t1"]["pttl"] <= 2000
    ends = ours.pop("taskora:conf17:{thr}:throttleEnds:t1")  # ours, additive: the window's end by our clock
    assert 0 < ends["pttl"] <= 2000 and int(ends["value"]) > 0
    assert_same_layout(normalized(ours, Ids()), normalized(rec.snapshot("dispatched"), Ids()),
                       additive_event_fields=set())  # fmt: skip


def test_deduplicate_writes_and_releases_what_typescript_does(engine: Any) -> None:
    rec = load("18-deduplicate")
    app = engine("conf18")
    started, release = threading.Event(), threading.Event()
    task = app.task("ded", lambda data: (started.set(), release.wait(10), data["v"])[2])
    first = task.dispatch({"v": 1}, deduplicate={"key": "d1"})
    app.start()
    assert started.wait(10)
    try:
        active_layout_matches(app, rec, first.id, task)
    finally:
        release.set()
    assert first.result(timeout=10) == 1
    done = dump(app, "conf18")
    assert "taskora:conf18:{ded}:dedup:d1" not in done  # released by the ack, as TS's ACK does
    assert_same_layout(normalized(done, Ids()), normalized(rec.snapshot("after-complete"), Ids()),
                       additive_event_fields={"result"})  # fmt: skip


def _values(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {key: (entry["type"], entry["value"]) for key, entry in snapshot.items()}


def active_layout_matches(app: Taskora, rec: Recording, first_id: str, task: Any) -> None:
    """While the first job runs: the layout of the recording's 'active' snapshot, and a second dispatch
    with the key is refused with the first job's id and writes nothing."""
    active = dump(app, "conf18")
    second = task.dispatch({"v": 2}, deduplicate={"key": "d1"})
    assert (second.enqueued, second.existing_id) == (False, first_id)
    assert _values(dump(app, "conf18")) == _values(active)  # a rejected dispatch writes nothing
    lock = f"taskora:conf18:{{ded}}:{first_id}:lock"
    assert active.pop(lock)["type"] == "string"  # our lock holds a worker token of our own making
    theirs = dict(rec.snapshot("active"))
    del theirs[f"taskora:conf18:{{ded}}:{rec.data['driver_output'][0]['value']['id']}:lock"]
    assert_same_layout(normalized(active, Ids()), normalized(theirs, Ids()), additive_event_fields=set())


def test_a_python_worker_releases_the_dedup_key_of_a_typescript_job(engine: Any) -> None:
    """The job as TypeScript's DEDUPLICATE_ENQUEUE wrote it (recording 18, its first dispatch: the hash of
    the 'active' snapshot before the claim, the wait list and the key) runs on a Python worker, which
    leaves the keyspace as TypeScript's ack did: completed, and the key released."""
    rec = load("18-deduplicate")
    app = engine("conf18")
    job_id = rec.data["driver_output"][0]["value"]["id"]
    job_key = f"taskora:conf18:{{ded}}:{job_id}"
    recorded = dict(rec.snapshot("active")[job_key]["value"], state="waiting")
    del recorded["processedOn"]
    client = app.adapter.raw_client()
    client.hset(job_key, mapping=recorded)
    client.lpush("taskora:conf18:{ded}:wait", job_id)
    client.set("taskora:conf18:{ded}:dedup:d1", job_id)
    task = app.task("ded", lambda data: data["v"])
    app.start()

    assert task.handle(job_id).result(timeout=10) == 1
    done = dump(app, "conf18")
    assert "taskora:conf18:{ded}:dedup:d1" not in done
    assert done[job_key]["value"]["dedupKey"] == "taskora:conf18:{ded}:dedup:d1"
    assert task.dispatch({"v": 3}, deduplicate={"key": "d1"}).enqueued
