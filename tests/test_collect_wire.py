"""collect writes what TypeScript taskora writes: the recording 20-collect.json (tests/fixtures/interop/) replayed
from Python, the keyspace compared at the recorded snapshots with ids and times (the recording's ``volatile``
list) masked, and the events compared in order."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from taskora import Taskora
from taskora.clock import VirtualClock
from taskora.memory import memory_adapter
from taskora.redis import redis_adapter
from taskora.worker.loop import Worker

from .interop_keyspace import restore
from .waiting import wait_until

RECORDING = json.loads((Path(__file__).parent / "fixtures" / "interop" / "20-collect.json").read_text())
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Hash fields that hold ms timestamps (named in the recording's ``volatile`` list).
TIME_FIELDS = {"ts", "processedOn", "finishedOn", "firstAt", "lastAt", "writtenAt"}
#: Event fields this library adds (docs/wire-format.md): a TypeScript reader ignores them.
ADDITIVE_EVENT_FIELDS = {"completed": {"result"}}
#: Keys of features outside collect that this library does not write (the per-minute counters of recording 22).
NOT_COMPARED = re.compile(r":metrics:")


def test_the_volatile_list_names_exactly_what_is_masked() -> None:
    """The masking below must cover what the recording calls volatile, and nothing more."""
    fields = {m.group(1) for v in RECORDING["volatile"] if (m := re.search(r"hash field (\w+):", v))}
    assert fields == TIME_FIELDS
    scored = {m.group(1) for v in RECORDING["volatile"] if (m := re.search(r"\{col\}:(\w+) zset scores", v))}
    assert scored == {"delayed", "completed"}


def _mask(text: str) -> str:
    return re.sub(r"metrics:(completed|failed):\d+", r"metrics:\1:<bucket>", UUID.sub("<uuid>", text))


def _entry(key: str, entry: dict[str, Any]) -> str:
    kind, value = entry["type"], entry["value"]
    if kind == "hash":
        value = {f: "<ms>" if f in TIME_FIELDS else _mask(v) for f, v in value.items()}
    elif kind == "zset":
        timed = key.endswith((":delayed", ":completed"))
        value = [[_mask(m), "<ms>" if timed else s] for m, s in value]
    elif kind == "list":
        value = [_mask(v) for v in value]
    elif kind == "string":
        value = _mask(value)
    elif kind == "stream":
        value = [{f: _mask(v) for f, v in e["fields"].items()
                  if f not in ADDITIVE_EVENT_FIELDS.get(e["fields"]["event"], ())} for e in value]
    pttl = entry["pttl"] if entry["pttl"] < 0 else "<pttl>"
    return json.dumps([_mask(key), kind, value, pttl], sort_keys=kind != "hash")


def normalized(dump: dict[str, Any]) -> str:
    """The dump as sorted entries, ids and times masked (several jobs' hashes stay apart: a list, not a dict),
    one per line so that a failure shows the differing entries."""
    return "\n".join(sorted(_entry(key, entry) for key, entry in dump.items() if not NOT_COMPARED.search(key)))


def dump(client: Any, prefix: str) -> dict[str, Any]:
    """``SCAN MATCH taskora:<prefix>:*`` in the recording's dump format."""
    out: dict[str, Any] = {}
    for raw in client.scan_iter(match=f"taskora:{prefix}:*"):
        key = raw.decode()
        kind = client.type(key).decode()
        out[key] = {"type": kind, "value": _read(client, key, kind), "pttl": client.pttl(key)}
    return out


def _read(client: Any, key: str, kind: str) -> Any:
    if kind == "hash":
        return {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
    if kind == "list":
        return [v.decode() for v in client.lrange(key, 0, -1)]
    if kind == "zset":
        return [[m.decode(), int(s) if s == int(s) else s] for m, s in client.zrange(key, 0, -1, withscores=True)]
    if kind == "stream":
        return [{"id": i.decode(), "fields": {k.decode(): v.decode() for k, v in f.items()}}
                for i, f in client.xrange(key)]
    return client.get(key).decode()


@pytest.fixture(params=["redis", "memory"])
def make_recorded(request: pytest.FixtureRequest) -> Any:
    """``make(clock=None)``: an app on the recording's prefix, on redis-server or the in-memory engine."""
    apps: list[Taskora] = []

    def make(clock: VirtualClock | None = None) -> Taskora:
        prefix = RECORDING["prefix"]
        if request.param == "redis":
            adapter = redis_adapter(request.getfixturevalue("redis_url"), prefix=prefix, clock=clock)
        else:
            adapter = memory_adapter(prefix=prefix, clock=clock)
        apps.append(Taskora(adapter))
        return apps[-1]

    yield make
    for app in apps:
        app.close(timeout=5)


def test_collect_replays_the_typescript_recording(make_recorded: Any) -> None:
    app, prefix = make_recorded(), RECORDING["prefix"]
    client = app.adapter.raw_client()
    batches: list[list[Any]] = []

    @app.task("col", collect={"key": "c1", "delay": "500ms", "max_size": 3})
    def col(items: list[Any]) -> int:
        batches.append(items)
        return len(items)

    app.adapter.connect()  # the wire handshake, as TypeScript's first dispatch makes it
    for v in range(1, 6):
        col.dispatch({"v": v})
    assert normalized(dump(client, prefix)) == normalized(RECORDING["snapshots"]["pushed"])

    expected = {o["key"]: o["value"] for o in RECORDING["driver_output"]}
    assert col.peek_collect("c1") == expected["peekCollect"]
    info = col.inspect_collect("c1")
    assert info is not None and info.count == expected["inspectCollect"]["count"] and info.oldest_at <= info.newest_at

    app.start()
    wait_until(lambda: len(batches) == 2 and app.adapter.counts("col")["completed"] == 2, 10, "both batches")
    app.close(timeout=5)
    assert batches == expected["batches"]
    assert col.inspect_collect("c1") is expected["inspectCollectAfter"]
    ours, theirs = normalized(dump(client, prefix)).splitlines(), normalized(RECORDING["after"]).splitlines()
    assert [e for e in ours if e not in theirs] == [] and [e for e in theirs if e not in ours] == []


def test_a_python_worker_finishes_a_buffer_typescript_wrote_as_typescript_does(make_recorded: Any) -> None:
    """The recording's 'pushed' keyspace (a batch waiting, two items buffered behind a flush job, all written by
    TypeScript) run by a Python worker ends as the recording's 'after'. The worker's clock is the recording's:
    it claims the batch before the flush job is due, then again once it is (when the TypeScript worker did)."""
    clock = VirtualClock(_recorded_claim_ms(0))
    app, prefix = make_recorded(clock), RECORDING["prefix"]
    client = app.adapter.raw_client()
    restore(client, RECORDING["snapshots"]["pushed"])
    batches: list[list[Any]] = []

    @app.task("col", collect={"key": "c1", "delay": "500ms", "max_size": 3})
    def col(items: list[Any]) -> int:
        batches.append(items)
        return len(items)

    worker = Worker(app, app.tasks.values())
    assert app.adapter.wait_for_work("col", 1)  # a worker's wait takes the wake-up TypeScript left in the marker
    assert worker.run_until_idle() == 1
    clock.set(_recorded_claim_ms(-1))
    assert worker.run_until_idle() == 1
    assert batches == [[{"v": 1}, {"v": 2}, {"v": 3}], [{"v": 4}, {"v": 5}]]
    ours, theirs = normalized(dump(client, prefix)).splitlines(), normalized(RECORDING["after"]).splitlines()
    assert [e for e in ours if e not in theirs] == [] and [e for e in theirs if e not in ours] == []


def _recorded_claim_ms(index: int) -> int:
    """The ``now`` of the recording's claims, in order: each claim first promotes ``delayed 0 <now>``."""
    bounds = [int(c["cmd"][3]) for c in RECORDING["commands"]
              if c.get("src") == "lua" and c.get("cmd", [""])[0] == "ZRANGEBYSCORE" and c["cmd"][2] == "0"
              and c["cmd"][3] != "+inf"]
    return bounds[index]
