"""collect writes what TypeScript taskora writes: the recording 20-collect.json (tests/fixtures/interop/) replayed
from Python, the keyspace compared at the recorded snapshots with ids and times (the recording's ``volatile``
list) masked, and the events compared in order."""

from __future__ import annotations

from typing import Any

import pytest

from taskora import Taskora
from taskora.clock import VirtualClock
from taskora.memory import memory_adapter
from taskora.redis import redis_adapter
from taskora.worker.loop import Worker
from tests.interop.recording import Allowed, Volatile, assert_same_state, dump, load, restore
from tests.waiting import wait_until

RECORDING = load("20-collect")
#: What the comparison leaves out: the ``result`` field this library adds to completed events (docs/wire-format.md:
#: a TypeScript reader ignores it), and the keys of features outside collect that this library does not write
#: (the per-minute counters of recording 22); and the wake-up marker: whether a stopping worker left a ``wake:0``
#: member unconsumed depends on timing (the flush job may be claimed before the marker is read), as
#: tests/flow/test_flow_claim_wire.py notes; the next worker's wait consumes it.
ALLOWED = Allowed(keys=(r":metrics:", r":marker$"), event_fields=("result",))


def test_the_volatile_list_names_exactly_what_is_masked() -> None:
    """The masking must cover the hash fields and zset scores this recording calls volatile, and nothing more."""
    marks = Volatile.parse(RECORDING.volatile)
    assert {field for _, field in marks.time_fields} == {"ts", "processedOn", "finishedOn", "firstAt", "lastAt",
                                                          "writtenAt"}
    assert {p.pattern.rsplit(":", 1)[-1] for p in marks.time_scores} == {"delayed", "completed"}


@pytest.fixture(params=["redis", "memory"])
def make_recorded(request: pytest.FixtureRequest) -> Any:
    """``make(clock=None)``: an app on the recording's prefix, on redis-server or the in-memory engine."""
    apps: list[Taskora] = []

    def make(clock: VirtualClock | None = None) -> Taskora:
        prefix = RECORDING.prefix
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
    app, prefix = make_recorded(), RECORDING.prefix
    client = app.adapter.raw_client()
    batches: list[list[Any]] = []

    @app.task("col", collect={"key": "c1", "delay": "500ms", "max_size": 3})
    def col(items: list[Any]) -> int:
        batches.append(items)
        return len(items)

    app.adapter.connect()  # the wire handshake, as TypeScript's first dispatch makes it
    for v in range(1, 6):
        col.dispatch({"v": v})
    assert_same_state(dump(client, prefix), RECORDING.snapshot("pushed"), RECORDING.volatile, mask_ids=True,
                      allow=ALLOWED)

    expected = {o["key"]: o["value"] for o in RECORDING.data["driver_output"]}
    assert col.peek_collect("c1") == expected["peekCollect"]
    info = col.inspect_collect("c1")
    assert info is not None and info.count == expected["inspectCollect"]["count"] and info.oldest_at <= info.newest_at

    app.start()
    wait_until(lambda: len(batches) == 2 and app.adapter.counts("col")["completed"] == 2, 10, "both batches")
    app.close(timeout=5)
    assert batches == expected["batches"]
    assert col.inspect_collect("c1") is expected["inspectCollectAfter"]
    assert_same_state(dump(client, prefix), RECORDING.after, RECORDING.volatile, mask_ids=True, allow=ALLOWED)


def test_a_python_worker_finishes_a_buffer_typescript_wrote_as_typescript_does(make_recorded: Any) -> None:
    """The recording's 'pushed' keyspace (a batch waiting, two items buffered behind a flush job, all written by
    TypeScript) run by a Python worker ends as the recording's 'after'. The worker's clock is the recording's:
    it claims the batch before the flush job is due, then again once it is (when the TypeScript worker did)."""
    clock = VirtualClock(_recorded_claim_ms(0))
    app, prefix = make_recorded(clock), RECORDING.prefix
    client = app.adapter.raw_client()
    restore(client, RECORDING.snapshot("pushed"))
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
    assert_same_state(dump(client, prefix), RECORDING.after, RECORDING.volatile, mask_ids=True, allow=ALLOWED)


def _recorded_claim_ms(index: int) -> int:
    """The ``now`` of the recording's claims, in order: each claim first promotes ``delayed 0 <now>``."""
    bounds = [int(c["cmd"][3]) for c in RECORDING.data["commands"]
              if c.get("src") == "lua" and c.get("cmd", [""])[0] == "ZRANGEBYSCORE" and c["cmd"][2] == "0"
              and c["cmd"][3] != "+inf"]
    return bounds[index]
