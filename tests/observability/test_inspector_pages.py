"""``app.inspect().list_ids`` / ``jobs`` read one page (#18): task after task, bounded by ``limit`` and
``offset``, without ever reading a whole queue, and refusing bad bounds with ConfigurationError."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from taskora import ConfigurationError, Taskora


def _fill(app: Taskora) -> dict[str, list[str]]:
    """Task "a" with 3 waiting jobs (one prioritized, which is claimed first), task "b" with 4."""
    app.register_task("a", None)
    app.register_task("b", None)
    a = [app.dispatch("a", n).id for n in range(2)]
    urgent = app.dispatch("a", 9, priority=5).id
    b = [app.dispatch("b", n).id for n in range(4)]
    return {"a": [urgent, *a], "b": b}


def test_pages_run_task_after_task_in_claim_order(app: Taskora) -> None:
    ids = _fill(app)
    everything = ids["a"] + ids["b"]
    inspect = app.inspect()

    for offset in range(len(everything) + 1):
        for limit in (1, 2, 3, 7):
            assert inspect.list_ids("waiting", limit=limit, offset=offset) == everything[offset:offset + limit]
    assert inspect.list_ids("waiting", task="b", limit=2, offset=1) == ids["b"][1:3]
    assert [j.id for j in inspect.jobs("waiting", limit=3, offset=2)] == everything[2:5]


@pytest.mark.parametrize(("bounds", "why"), [
    ({"limit": 0}, "limit must be an integer 1..1000, got 0"),
    ({"limit": 1001}, "limit must be an integer 1..1000, got 1001"),
    ({"limit": True}, "limit must be an integer"),
    ({"limit": "5"}, "limit must be an integer"),
    ({"offset": -1}, "offset must be an integer >= 0, got -1"),
    ({"offset": 1.5}, "offset must be an integer >= 0, got 1.5"),
    ({"state": "done"}, "unknown state 'done'"),
])  # fmt: skip
def test_bad_bounds_are_refused_naming_what_is_wrong(app: Taskora, bounds: dict, why: str) -> None:
    app.register_task("a", None)
    bounds = dict(bounds)  # each engine's run gets its own copy
    state = bounds.pop("state", "waiting")
    reads = [lambda: app.inspect().list_ids(state, **bounds), lambda: app.inspect().jobs(state, **bounds)]
    if state == "waiting":
        reads.append(lambda: app.dead_letters.list(**bounds))
    for read in reads:
        with pytest.raises(ConfigurationError, match=why):
            read()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def logged(redis_url: str) -> Iterator[redis.Redis]:
    """Every command the session's Redis runs, through its slow log (threshold 0)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.config_set("slowlog-max-len", 1000)
    client.config_set("slowlog-log-slower-than", 0)
    client.slowlog_reset()
    yield client
    client.config_set("slowlog-log-slower-than", 10000)
    client.config_set("slowlog-max-len", 128)
    client.close()


@pytest.mark.parametrize("adapter_kind", ["redis"])
def test_a_page_of_a_long_waiting_queue_reads_only_that_page(app: Taskora, logged: redis.Redis) -> None:
    app.register_task("a", None).dispatch_many(list(range(3000)))
    logged.slowlog_reset()

    page = app.inspect().list_ids("waiting", limit=5, offset=1000)

    assert len(page) == 5
    commands = [_text(entry["command"]) for entry in logged.slowlog_get(1000)]
    ranges = [command for command in commands if "RANGE" in command.upper()]
    assert ranges and all(" 0 -1" not in command for command in ranges), ranges
