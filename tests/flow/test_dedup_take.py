"""The deduplicate admission takes its key in one write (lib/dedup.lua's take_dedup: ``SET ... NX GET``) and
answers a created job with a bare 1. What that must not change, on both engines: a dispatch that creates
nothing (its job id exists) leaves the key as it found it, free or held; a key naming a job that is gone or
not blocking is taken over; and a free key costs one SET and no GET (the cost figures of
bench/dispatch_cost.py's flow rows, on a throw-away redis-server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.dispatch_cost import measure
from taskora import Taskora
from tests.redis_server import RedisServer

KEY = "taskora:{report}:dedup:k"


def _store(app: Taskora) -> Any:
    return app.adapter.raw_client()


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def test_a_dispatch_under_an_existing_job_id_leaves_a_free_key_free(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    plain = task.dispatch(1, job_id="j1")

    again = task.dispatch(2, job_id="j1", deduplicate={"key": "k"})

    assert (again.enqueued, again.id) == (False, plain.id)
    assert _store(app).exists(KEY) == 0  # taken by the one write, then given back
    assert task.dispatch(3, deduplicate={"key": "k"}).enqueued


def test_a_dispatch_under_an_existing_job_id_leaves_a_non_blocking_holder_in_place(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    holder = task.dispatch(1, deduplicate={"key": "k"})  # waiting: does not block while=["active"]
    task.dispatch(2, job_id="j2")

    again = task.dispatch(3, job_id="j2", deduplicate={"key": "k", "while": ["active"]})

    assert again.enqueued is False
    assert _text(_store(app).get(KEY)) == holder.id
    assert _text(app.adapter.get_fields("report", "j2", ["dedupKey"])["dedupKey"]) is None


def test_a_key_naming_a_job_that_is_gone_is_taken_over(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    _store(app).set(KEY, "gone")  # e.g. its job was purged by other means

    handle = task.dispatch(1, deduplicate={"key": "k"})

    assert handle.enqueued
    assert _text(_store(app).get(KEY)) == handle.id
    assert _text(app.adapter.get_fields("report", handle.id, ["dedupKey"])["dedupKey"]) == KEY


def test_a_non_blocking_holder_hands_the_key_over(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    first = task.dispatch(1, deduplicate={"key": "k"})

    second = task.dispatch(2, deduplicate={"key": "k", "while": ["active"]})  # the holder only waits

    assert second.enqueued and second.id != first.id
    assert _text(_store(app).get(KEY)) == second.id


def test_dispatch_many_gives_back_the_key_of_an_item_that_creates_nothing(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    task.dispatch(0, job_id="j1")

    handles = task.dispatch_many([(1, {"job_id": "j1", "deduplicate": {"key": "k"}}),
                                  (2, {"deduplicate": {"key": "k"}})])

    assert [h.enqueued for h in handles] == [False, True]
    assert handles[0].existing_id == "j1"  # the job with its id, not a dedup holder
    assert _text(_store(app).get(KEY)) == handles[1].id


@pytest.fixture(scope="module")
def own_redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


def test_a_dedup_dispatch_under_a_free_key_is_one_script_with_one_set_and_no_get(own_redis_url: str) -> None:
    report = measure(own_redis_url, "dedup-ignored", calls=200, bulk=False, profile=False)

    assert report["jobs"] == 200
    assert report["scripts"] == 1.0 and report["cmds"]["set"] == 1.0 and report["cmds"]["hset"] == 1.0
    assert "get" not in report["cmds"] and "hget" not in report["cmds"]  # no read before the write


def test_a_throttle_row_admits_every_call(own_redis_url: str) -> None:
    report = measure(own_redis_url, "throttle-ignored", calls=200, bulk=False, profile=False)

    assert report["jobs"] == 200
    assert report["scripts"] == 1.0 and report["cmds"]["hset"] == 1.0  # every call created its job
