"""collect (batching): the three flush triggers, the non-destructive reads, races at the max_size boundary,
bad configuration, and a SIGKILL mid-batch; on Redis and on the in-memory engine (the same Lua)."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from taskora import ConfigurationError, Taskora
from taskora.adapters.base import CollectPush
from taskora.clock import VirtualClock
from taskora.worker.loop import Worker
from tests.crash_worker import WorkerProcesses, batch_runs, declare_batchy
from tests.waiting import wait_until


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(1_800_000_000_000)


@pytest.fixture
def vapp(make_app: Callable[..., Taskora], clock: VirtualClock) -> Taskora:
    """An app on the parametrised engine whose scripts take their time from a virtual clock."""
    return make_app(clock=clock)


def collector(app: Taskora, **collect: Any) -> tuple[Any, list[list[Any]]]:
    batches: list[list[Any]] = []

    @app.task("col", collect={"key": "c1", "delay": "500ms", **collect})
    def col(items: list[Any]) -> int:
        batches.append(items)
        return len(items)

    return col, batches


def run_due(app: Taskora) -> int:
    return Worker(app, app.tasks.values()).run_until_idle()


def test_max_size_flushes_in_the_push_and_the_handler_gets_the_list(vapp: Taskora) -> None:
    col, batches = collector(vapp, max_size=3)
    handles = [col.dispatch({"v": i}) for i in range(1, 6)]
    assert vapp.adapter.counts("col")["waiting"] == 1  # the third push made the batch job, items 4-5 wait
    assert run_due(vapp) == 1
    assert batches == [[{"v": 1}, {"v": 2}, {"v": 3}]]
    assert handles[2].result(timeout=0) == 3
    assert col.peek_collect("c1") == [{"v": 4}, {"v": 5}]


def test_delay_flushes_after_the_last_item_and_each_item_resets_it(vapp: Taskora, clock: VirtualClock) -> None:
    col, batches = collector(vapp)
    col.dispatch(1)
    clock.advance(0.4)
    col.dispatch(2)
    clock.advance(0.4)  # 800 ms after the first item, 400 ms after the last
    assert run_due(vapp) == 0 and batches == []
    clock.advance(0.1)
    assert run_due(vapp) == 1
    assert batches == [[1, 2]]
    assert col.inspect_collect("c1") is None and col.peek_collect("c1") == []


def test_max_wait_flushes_since_the_first_item_even_while_items_keep_coming(vapp: Taskora,
                                                                            clock: VirtualClock) -> None:
    col, batches = collector(vapp, max_wait="1s")
    for value in range(3):  # at 0, 400 and 800 ms: the delay alone would flush at 1300 ms
        col.dispatch(value)
        clock.advance(0.4)
    clock.set(clock.now_ms() - 200 - 1)  # 999 ms after the first item
    assert run_due(vapp) == 0
    clock.advance(0.001)
    assert run_due(vapp) == 1
    assert batches == [[0, 1, 2]]


def test_peek_and_inspect_change_nothing(vapp: Taskora, clock: VirtualClock) -> None:
    col, batches = collector(vapp, max_size=10)
    start = clock.now_ms()
    col.dispatch({"a": 1})
    clock.advance(0.1)
    col.dispatch({"a": 2})
    due_before = vapp.adapter.next_due_ms("col")
    for _ in range(2):
        assert col.peek_collect("c1") == [{"a": 1}, {"a": 2}]
        info = col.inspect_collect("c1")
        assert info is not None
        assert (info.count, info.oldest_at, info.newest_at) == (2, start, start + 100)
    assert vapp.adapter.next_due_ms("col") == due_before == start + 600
    clock.set(due_before)
    assert run_due(vapp) == 1
    assert batches == [[{"a": 1}, {"a": 2}]]
    assert col.peek_collect("c1") == [] and col.inspect_collect("c1") is None


def test_a_key_function_routes_items_to_buffers_of_their_own(vapp: Taskora, clock: VirtualClock) -> None:
    batches: list[list[Any]] = []

    @vapp.task("by-region", collect={"key": lambda d: f"region:{d['region']}", "delay": "1s", "max_size": 2})
    def by_region(items: list[Any]) -> None:
        batches.append(items)

    for region, n in [("eu", 1), ("us", 2), ("eu", 3)]:
        by_region.dispatch({"region": region, "n": n})
    assert by_region.peek_collect("region:us") == [{"region": "us", "n": 2}]
    clock.advance(1)
    run_due(vapp)
    eu = [{"region": "eu", "n": 1}, {"region": "eu", "n": 3}]
    assert sorted(batches, key=len) == [[{"region": "us", "n": 2}], eu]


def test_two_threads_pushing_a_thousand_items_put_each_in_exactly_one_batch(vapp: Taskora) -> None:
    col, batches = collector(vapp, max_size=10)

    def produce(start: int) -> None:
        for n in range(start, start + 500):
            col.dispatch(n)

    threads = [threading.Thread(target=produce, args=(start,)) for start in (0, 500)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert run_due(vapp) == 100
    assert all(len(batch) == 10 for batch in batches)
    assert sorted(n for batch in batches for n in batch) == list(range(1000))
    assert col.inspect_collect("c1") is None


def test_a_running_worker_flushes_by_delay_in_real_time(app: Taskora) -> None:
    col, batches = collector(app, delay="200ms")
    app.start()
    col.dispatch("a")
    col.dispatch("b")
    wait_until(lambda: batches, 10, "the delay flush")
    assert batches == [["a", "b"]]


def test_a_stale_flush_job_whose_buffer_was_taken_is_dropped(vapp: Taskora, clock: VirtualClock) -> None:
    """The flush pointer lives 2 x max(delay, max_wait); past that a push arms a second timer. The first
    timer drains everything; the second finds the buffer empty and is dropped without running the handler."""
    col, batches = collector(vapp)
    first = col.dispatch(1)
    redis_key = vapp.adapter.keys.task_prefix("col") + "collect:c1:job"
    vapp.adapter.raw_client().delete(redis_key)  # as if its PX had lapsed
    clock.advance(0.1)
    second = col.dispatch(2)
    assert {first.state(), second.state()} == {"delayed"}
    clock.advance(0.4)
    assert run_due(vapp) == 1
    assert batches == [[1, 2]]
    assert first.state() == "completed" and second.state() == "delayed"
    clock.advance(0.1)
    assert run_due(vapp) == 0
    assert batches == [[1, 2]] and second.state() is None


def test_a_retried_batch_runs_again_with_the_same_items(vapp: Taskora, clock: VirtualClock) -> None:
    seen: list[list[int]] = []

    @vapp.task("flaky", collect={"key": "k", "delay": "1s", "max_size": 2}, retry={"attempts": 2, "delay": 1,
                                                                                    "jitter": False})
    def flaky(items: list[int]) -> int:
        seen.append(items)
        if len(seen) == 1:
            raise RuntimeError("first run fails")
        return sum(items)

    handle = flaky.dispatch(1)
    handle = flaky.dispatch(2)
    run_due(vapp)
    clock.advance(1)
    run_due(vapp)
    assert seen == [[1, 2], [1, 2]] and handle.result(timeout=0) == 3


# -- bad configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize(("collect", "named"), [
    ({"key": "k", "delay": "1s", "max_size": 0}, "collect.max_size"),
    ({"key": "k", "delay": "1s", "max_size": True}, "collect.max_size"),
    ({"key": "k", "delay": "1s", "maxSize": 3}, "maxSize"),
    ({"key": "k"}, "delay"),
    ({"key": "", "delay": "1s"}, "collect.key"),
    ({"key": "k", "delay": 0}, "collect.delay"),
    ({"key": "k", "delay": "1s", "max_wait": "soon"}, "collect.max_wait"),
    ("k", "collect"),
])
def test_bad_collect_config_is_refused_at_declaration(app: Taskora, collect: Any, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        app.task("bad", lambda items: None, collect=collect)
    assert "bad" not in app.tasks


@pytest.mark.parametrize("option", [{"priority": 5}, {"schedule": {"every": "1m"}}])
def test_collect_with_an_option_it_excludes_is_refused_naming_it(app: Taskora, option: dict[str, Any]) -> None:
    (name,) = option
    with pytest.raises(ConfigurationError, match=f"collect cannot be combined with {name}"):
        app.task("bad", lambda items: None, collect={"key": "k", "delay": "1s"}, **option)
    assert "bad" not in app.tasks


def test_collect_needs_the_json_serializer(make_app: Callable[..., Taskora]) -> None:
    app = make_app(serializer="pickle", allow_pickle=True)
    with pytest.raises(ConfigurationError, match="json serializer"):
        app.task("bad", lambda items: None, collect={"key": "k", "delay": "1s"})


def test_dispatch_options_and_bad_keys_are_refused_with_nothing_written(app: Taskora) -> None:
    col, _ = collector(app)
    with pytest.raises(ConfigurationError, match="delay"):
        col.dispatch(1, delay=5)
    keyed = app.task("keyed", lambda items: None, collect={"key": lambda d: d.get("k"), "delay": "1s"})
    with pytest.raises(ConfigurationError, match="collect key"):
        keyed.dispatch({"no": "key"})
    assert col.peek_collect("c1") == [] and app.adapter.counts("col")["delayed"] == 0
    with pytest.raises(ConfigurationError, match="workflow step"):
        col.s(1).dispatch()


def test_peek_and_inspect_on_a_task_without_collect_raise(app: Taskora) -> None:
    plain = app.task("plain", lambda data: data)
    with pytest.raises(ConfigurationError, match="no collect option"):
        plain.peek_collect("k")
    with pytest.raises(ConfigurationError, match="no collect option"):
        plain.inspect_collect("k")


# -- a worker SIGKILLed mid-batch ----------------------------------------------------------------------
@pytest.fixture
def spawn_worker(redis_url: str) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """``spawn_worker(mode)``: a tests/crash_worker.py process running the ``batchy`` collect task."""
    workers = WorkerProcesses(redis_url, task="batchy")
    yield workers.spawn
    workers.kill_all()


@pytest.mark.parametrize("items", [5, 3], ids=["flushed-by-max-size", "flushed-by-delay"])
def test_a_batch_of_a_sigkilled_worker_runs_again_with_every_item(redis_url: str, spawn_worker, items: int) -> None:
    """max_size: the batch is written by the push; delay: the claim drains the buffer into the job. Either way
    the items are in the job before the handler starts, so the re-run after the kill has them all."""
    app = Taskora(redis_url)  # from the URL: app.close() closes its connections (a given adapter is the caller's)
    batchy = declare_batchy(app)
    doomed = spawn_worker("hang")
    handles = [batchy.dispatch({"n": n}) for n in range(items)]
    batch_id = handles[-1].id  # the fifth push made the batch; with 3 items, the last push armed the timer
    wait_until(lambda: batch_runs(redis_url, batch_id), 10, "the first worker to start the batch")
    assert batchy.peek_collect("k") == []
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(5)
    spawn_worker("quick")

    assert handles[-1].result(timeout=30) == items
    recorded = batch_runs(redis_url, batch_id)
    assert [pid for pid, _ in recorded][0] == doomed.pid and len(recorded) == 2
    assert all(got == [{"n": n} for n in range(items)] for _, got in recorded)
    assert app.adapter.counts("batchy")["completed"] == 1
    assert redis.Redis.from_url(redis_url).keys("*collect*") == []
    app.close()


def test_a_promoted_flush_job_not_yet_claimed_is_replaced_by_the_next_push(vapp: Taskora,
                                                                           clock: VirtualClock) -> None:
    col, batches = collector(vapp, max_size=3)
    for v in range(1, 5):  # 1-3: a waiting batch; 4: buffered, with its flush job delayed
        col.dispatch(v)
    ((timer, _),) = vapp.adapter.delayed_head("col", 1)
    clock.advance(0.5)
    first = vapp.adapter.claim("col", "token-1", 30_000).job  # promotes the timer, claims the older batch
    assert first is not None and first.id != timer
    assert vapp.adapter.list_ids("col", "waiting") == [timer]
    col.dispatch(5)
    assert vapp.adapter.list_ids("col", "waiting") == [] and vapp.adapter.get_job("col", timer) is None
    clock.advance(0.5)
    run_due(vapp)
    assert batches == [[4, 5]]


def test_each_buffered_push_emits_a_collect_event(app: Taskora) -> None:
    col, _ = collector(app, max_size=3)
    seen: list[tuple[int | None, Any]] = []
    col.on("collect", lambda event: seen.append((event.count, event.extra["key"])))
    for v in range(2):
        col.dispatch(v)
    wait_until(lambda: len(seen) == 2, 10, "two collect events")
    assert seen == [(1, "c1"), (2, "c1")]


def test_dispatch_many_pushes_each_item(vapp: Taskora) -> None:
    col, batches = collector(vapp, max_size=4)
    handles = col.dispatch_many([1, 2, 3, 4, 5])
    assert len(handles) == 5
    run_due(vapp)
    assert batches == [[1, 2, 3, 4]] and col.peek_collect("c1") == [5]


def test_a_resent_push_adds_nothing(vapp: Taskora) -> None:
    """A push sent again (a connection dropped before its reply) finds its job id taken and changes nothing."""
    collector(vapp)
    push = CollectPush(task="col", id="push-1", item="7", key="c1", delay_ms=500)
    assert vapp.adapter.collect_push(push) == (0, 1)
    assert vapp.adapter.collect_push(push) == (-1, 0)
    assert vapp.adapter.collect_items("col", "c1") == [b"7"]
    assert vapp.adapter.collect_meta("col", "c1")["count"] == "1"


def test_cancelling_a_timer_keeps_its_items_for_the_next_flush(vapp: Taskora, clock: VirtualClock) -> None:
    col, batches = collector(vapp)
    col.dispatch(1).cancel()
    clock.advance(1)
    assert run_due(vapp) == 0 and col.peek_collect("c1") == [1]
    col.dispatch(2)
    clock.advance(1)
    run_due(vapp)
    assert batches == [[1, 2]]


def test_purge_clears_the_buffers_and_their_flush_jobs(vapp: Taskora, clock: VirtualClock) -> None:
    """Purged items must not come back as part of a batch at the next push, and a buffer whose timer is gone
    is purged too; purging a task whose name is a glob of another one leaves the other's buffers."""
    col, batches = collector(vapp)
    globby = vapp.task("col*", lambda items: None, collect={"key": "c1", "delay": "1s"})
    col.dispatch(1), col.dispatch(2), globby.dispatch("other task")
    orphan = vapp.adapter.keys.task_prefix("col") + "collect:other:"  # a buffer without a flush job
    vapp.adapter.raw_client().rpush(orphan + "items", "3")
    vapp.adapter.raw_client().hset(orphan + "meta", mapping={"count": 1, "firstAt": 1, "lastAt": 1})
    assert vapp.adapter.purge("col*") == 1 and globby.peek_collect("c1") == []
    assert col.peek_collect("c1") == [1, 2]  # "col*" is a task name here, never a pattern
    assert vapp.adapter.purge("col") == 1  # c1's flush job
    assert col.inspect_collect("c1") is None and col.peek_collect("other") == []
    assert vapp.adapter.collect_buffer_keys("col") == []
    col.dispatch(4)
    clock.advance(0.5)
    run_due(vapp)
    assert batches == [[4]]
