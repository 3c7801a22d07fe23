"""Flow control in ``dispatch_many`` on both engines: deduplicate decided per item in the batch's one
script call, throttle and debounce items dispatched one by one, and a bad item refused with nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from taskora import ConfigurationError, Taskora


def _keys(app: Taskora, pattern: str) -> list[str]:
    return sorted(k.decode() for k in app.adapter.raw_client().keys(pattern))


def _dedup(key: str) -> dict[str, Any]:
    return {"deduplicate": {"key": key}}


def test_deduplicate_in_a_batch_creates_one_job_per_key_and_names_the_holder(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    held = task.dispatch(0, **_dedup("k0"))  # a holder from an earlier single dispatch

    handles = task.dispatch_many([(1, _dedup("k1")), (2, _dedup("k1")), 3, (4, _dedup("k0")), (5, _dedup("k2"))])

    assert [h.enqueued for h in handles] == [True, False, True, False, True]
    assert handles[1].existing_id == handles[0].id and handles[1].id == handles[0].id
    assert handles[3].existing_id == held.id
    assert handles[2].existing_id is None and handles[0].existing_id is None
    assert app.inspect().find(handles[4].id).dedup_key == "k2"
    again = task.dispatch_many([(6, _dedup("k1"))])  # the batch's holder blocks later batches too
    assert (again[0].enqueued, again[0].existing_id) == (False, handles[0].id)

    app.start()
    assert [h.result(timeout=10) for h in handles] == [1, 1, 3, 0, 5]
    assert _keys(app, "taskora:{report}:dedup:*") == []  # every key released as its job completed
    after = task.dispatch_many([(7, _dedup("k1")), (8, _dedup("k1"))])
    assert [h.enqueued for h in after] == [True, False]
    assert after[0].result(timeout=10) == 7


def test_deduplicate_while_in_a_batch_follows_the_holders_state(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    first = task.dispatch(1, **_dedup("k"), delay="1h")
    waiting_only = {"deduplicate": {"key": "k", "while": ["waiting"]}}
    handles = task.dispatch_many([(2, waiting_only), (3, waiting_only)])
    # the delayed holder does not block 'waiting' only: the first item takes the key, the second sees it
    assert [h.enqueued for h in handles] == [True, False]
    assert handles[1].existing_id == handles[0].id != first.id


def test_a_job_id_that_exists_is_reported_as_not_enqueued_in_a_flow_batch(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    task.dispatch(1, job_id="fixed")
    handles = task.dispatch_many([(2, {"job_id": "fixed", **_dedup("k")}), (3, _dedup("k"))])
    assert [(h.enqueued, h.existing_id) for h in handles] == [(False, "fixed"), (True, None)]


def test_throttle_and_debounce_items_of_a_batch_go_one_by_one(app: Taskora) -> None:
    task = app.task("call-api", lambda n: n)
    limit = {"throttle": {"key": "api", "max": 2, "window": "1h"}}
    throttled = task.dispatch_many([(n, limit) for n in range(4)])
    assert [h.enqueued for h in throttled] == [True, True, False, False]

    debounce = {"debounce": {"key": "doc", "delay": "200ms"}}
    debounced = task.dispatch_many([(10, debounce), (11, debounce), (12, debounce)])
    assert [h.state() for h in debounced] == [None, None, "delayed"]  # the last of the key wins
    app.start()
    assert debounced[2].result(timeout=10) == 12


@pytest.mark.parametrize(("items", "named"), [
    ([1, (2, {"deduplicate": {"key": ""}})], r"report\.dispatch_many \(item 1\): deduplicate\.key must be"),
    ([(1, _dedup("a")), (2, {**_dedup("b"), "throw_on_reject": True})],
     r"item 1\): throw_on_reject is not taken by dispatch_many"),
    ([(1, _dedup("a")), (2, {**_dedup("b"), "throttle": {"key": "t", "max": 1, "window": "1s"}})],
     r"item 1\): throttle and deduplicate are mutually exclusive"),
    ([(1, _dedup("a")), (2, {"priority": "high"})], "priority"),
])  # fmt: skip
def test_a_bad_item_refuses_the_whole_batch_with_nothing_written(app: Taskora, items: list[Any], named: str) -> None:
    task = app.task("report", lambda n: n)
    with pytest.raises(ConfigurationError, match=named):
        task.dispatch_many(items)
    assert _keys(app, "taskora:{report}:*") == []


def test_concurrency_key_and_ttl_work_in_dispatch_many(app: Taskora) -> None:
    task = app.task("per-tenant", lambda d: d)
    handles = task.dispatch_many([(1, {"concurrency_key": "t1", "concurrency_limit": 2, "ttl": "1h"}),
                                  (2, {**_dedup("d"), "concurrency_key": "t2"})])
    infos = [app.inspect().find(h.id) for h in handles]
    assert [(i.concurrency_key, i.concurrency_limit) for i in infos] == [("t1", 2), ("t2", 1)]
    assert infos[1].dedup_key == "d"
    fields = app.adapter.raw_client().hgetall(f"taskora:{{per-tenant}}:{handles[0].id}")
    assert int(fields[b"expireAt"]) > 0


def test_a_batch_writes_the_job_and_key_a_single_deduplicate_dispatch_writes(app: Taskora) -> None:
    """Single dispatch is checked against TypeScript's recording (tests/flow/test_flow_wire.py); a batch item must
    leave the same keys, fields and events, so a TypeScript worker releases its key the same way."""
    app.task("one", lambda d: d).dispatch({"v": 1}, deduplicate={"key": "d1"}, job_id="j1")
    app.task("many", lambda d: d).dispatch_many([({"v": 1}, {"deduplicate": {"key": "d1"}, "job_id": "j1"})])
    client = app.adapter.raw_client()

    def layout(task: str) -> dict[str, Any]:
        prefix = f"taskora:{{{task}}}:"
        job = {k.decode(): v.decode().replace(prefix, "<p>") for k, v in client.hgetall(prefix + "j1").items()}
        job.pop("ts")
        events = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in client.xrange(prefix + "events")]
        keys = sorted(k.decode().replace(prefix, "<p>") for k in client.keys(prefix + "*"))
        return {"job": job, "key": client.get(prefix + "dedup:d1"), "events": events, "keys": keys,
                "wait": client.lrange(prefix + "wait", 0, -1)}

    assert layout("many") == layout("one")
    assert layout("one")["job"]["dedupKey"] == "<p>dedup:d1"
