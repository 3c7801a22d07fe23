"""``Inspector.throughput``: the per-minute counters read back, written the way the TypeScript taskora writes
them (interop recording 22: ``INCR {prefix}{task}:metrics:<kind>:<minute ms>`` then ``EXPIRE 86400``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskora import Taskora
from taskora.clock import VirtualClock
from taskora.errors import ConfigurationError

NOW = 1_796_269_485_425  # inside the minute 1796269440000, as in the recording
MINUTE = 60_000
BUCKET = NOW - NOW % MINUTE


def record(app: Taskora, task: str, kind: str, minute: int, times: int) -> None:
    key = f"{app.adapter.keys.task_prefix(task)}metrics:{kind}:{minute}"
    client: Any = app.adapter.client  # the test writes what a worker's ack/fail script would
    for _ in range(times):
        client.incr(key)
    client.expire(key, 86400)


@pytest.fixture
def clocked(make_app: Callable[..., Taskora]) -> Taskora:
    app = make_app(clock=VirtualClock(NOW))
    app.register_task("ok", None)
    app.register_task("bad", None)
    return app


def test_the_window_ends_at_the_current_minute_and_fills_missing_minutes_with_zero(clocked: Taskora) -> None:
    record(clocked, "ok", "completed", BUCKET, 2)
    record(clocked, "ok", "failed", BUCKET - 2 * MINUTE, 1)
    rows = clocked.inspect().throughput(task="ok", minutes=3)
    assert rows == [{"minute": BUCKET - 2 * MINUTE, "completed": 0, "failed": 1},
                    {"minute": BUCKET - MINUTE, "completed": 0, "failed": 0},
                    {"minute": BUCKET, "completed": 2, "failed": 0}]


def test_without_a_task_the_tasks_are_summed_per_minute(clocked: Taskora) -> None:
    record(clocked, "ok", "completed", BUCKET, 2)
    record(clocked, "bad", "failed", BUCKET, 1)
    record(clocked, "bad", "completed", BUCKET - 5 * MINUTE, 4)  # outside a 2-minute window
    assert clocked.inspect().throughput(minutes=2)[-1] == {"minute": BUCKET, "completed": 2, "failed": 1}
    assert sum(r["completed"] for r in clocked.inspect().throughput(minutes=60)) == 6


@pytest.mark.parametrize("minutes", [0, 1441, "5", 2.5, True])
def test_a_window_outside_the_counters_24_hours_is_refused(clocked: Taskora, minutes: Any) -> None:
    with pytest.raises(ConfigurationError, match="throughput minutes"):
        clocked.inspect().throughput(minutes=minutes)


def test_an_unknown_task_is_named(clocked: Taskora) -> None:
    with pytest.raises(Exception, match="nope"):
        clocked.inspect().throughput(task="nope")
