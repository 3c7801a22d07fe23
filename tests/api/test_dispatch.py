"""Dispatch and results, on both engines: the basic promise of the queue."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from types import MappingProxyType

import pytest

from taskora import ConfigurationError, ExpiredError, SerializationError, Taskora
from taskora.clock import VirtualClock
from tests.waiting import wait_until


def test_dispatch_returns_a_handle_whose_result_is_the_return_value(app: Taskora) -> None:
    add = app.task("add", lambda data: data["x"] + data["y"])
    app.start()

    handle = add.dispatch({"x": 2, "y": 3})

    assert isinstance(handle.id, str) and handle.enqueued
    assert handle.result(timeout=10) == 5
    assert handle.state() == "completed"


def test_result_of_a_job_finished_before_anyone_waited(app: Taskora) -> None:
    done = threading.Event()
    square = app.task("square", lambda n: n * n)
    square.on("completed", lambda event: done.set())
    app.start()
    handle = square.dispatch(7)
    assert done.wait(10)

    assert handle.result(timeout=5) == 49


def test_dispatch_many_enqueues_every_item_with_its_options(app: Taskora) -> None:
    echo = app.task("echo", lambda data: data)
    handles = echo.dispatch_many([1, 2, (3, {"priority": 5}), (4, {"delay": "50ms"})])
    counts = app.adapter.counts("echo")
    assert counts["waiting"] == 3 and counts["delayed"] == 1

    app.start()

    assert [h.result(timeout=10) for h in handles] == [1, 2, 3, 4]


def test_meta_given_at_dispatch_reaches_the_handler(app: Taskora) -> None:
    """Front-ends keep their own fields on the job (``meta``) and read them back one by one or by prefix."""
    seen = app.task("seen", lambda data, ctx: {"one": ctx.meta("front.a"), "missing": ctx.meta("nope"),
                                                "prefixed": ctx.metas("front.")})
    app.start()
    handle = seen.dispatch(None, meta={"front.a": 1, "front.b": "x y", "other": "z"})
    assert handle.result(timeout=10) == {"one": "1", "missing": None, "prefixed": {"a": "1", "b": "x y"}}


def test_meta_may_be_any_mapping(app: Taskora) -> None:
    """A plain dict skips the Mapping check (µs on every dispatch of the Celery front); a read-only mapping is
    stored the same."""
    seen = app.task("seen", lambda data, ctx: ctx.metas("front."))
    app.start()
    handle = seen.dispatch(None, meta=MappingProxyType({"front.a": 1, "front.b": "x"}))
    assert handle.result(timeout=10) == {"a": "1", "b": "x"}


def test_jobs_run_by_priority_then_in_dispatch_order(make_app) -> None:
    """Within a priority the zset orders by dispatch time in ms (two jobs of one ms by id, as in TypeScript's
    layout): the virtual clock gives each dispatch its own ms, as a real producer's do a ms apart."""
    clock = VirtualClock()
    app = make_app(clock=clock)
    seen: list[str] = []
    record = app.task("record", lambda name: seen.append(name), concurrency=1)
    handles = {}
    for name, priority in (("below-1", -1), ("plain-1", 0), ("high", 10), ("lowest", -5), ("plain-2", 0),
                           ("mid", 5), ("below-2", -1), ("plain-3", 0)):
        handles[name] = record.dispatch(name, priority=priority)
        clock.advance(0.001)
    last = handles["lowest"]

    app.start()
    last.result(timeout=10)

    assert seen == ["high", "mid", "plain-1", "plain-2", "plain-3", "below-1", "below-2", "lowest"]


def test_delayed_job_waits_for_its_delay(app: Taskora) -> None:
    task = app.task("later", lambda data: "ran")
    app.start()

    handle = task.dispatch(None, delay=0.3)
    assert handle.state() == "delayed"
    assert handle.result(timeout=10) == "ran"

    job = app.adapter.get_job("later", handle.id)
    assert int(job["processedOn"]) - int(job["ts"]) >= 300


@pytest.mark.parametrize("concurrency", [1, 10])  # a slot of its own waits; a feeder's watching slot waits
def test_a_delayed_job_starts_when_it_falls_due(app: Taskora, concurrency: int) -> None:
    # An idle worker's wait for the next delayed job is ended by the worker's own alarm at the due time: a
    # timeout left to Redis ends only at its next cron tick, up to 100 ms later (hz 10).
    task = app.task("on-time", lambda n: n, concurrency=concurrency)
    app.start()
    task.dispatch(-1).result(timeout=10)  # the worker is up, and idle from here on
    lateness_ms = []
    for i in range(5):
        handle = task.dispatch(i, delay=0.2)
        assert handle.result(timeout=10) == i
        job = app.adapter.get_job("on-time", handle.id)
        lateness_ms.append(int(job["processedOn"]) - int(job["ts"]) - 200)
    assert min(lateness_ms) >= 0
    assert sorted(lateness_ms)[2] < 50, f"started this late after falling due (ms): {lateness_ms}"


def test_ttl_expires_a_job_nobody_started(make_app) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("perishable", lambda data: "ran")
    stale = task.dispatch(None, ttl="1s")
    fresh = task.dispatch(None, ttl="1h")
    clock.advance(2)

    app.start()

    with pytest.raises(ExpiredError):
        stale.result(timeout=10)
    assert stale.state() == "expired"
    assert fresh.result(timeout=10) == "ran"


def test_payload_types_round_trip_through_the_queue(app: Taskora) -> None:
    echo = app.task("echo", lambda data: data)
    app.start()
    payload = {
        "when": datetime(2026, 11, 22, 12, 30, tzinfo=timezone.utc),
        "day": date(2026, 1, 2),
        "price": Decimal("19.99"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "blob": b"\x00\xffraw",
        "pair": (1, "two"),
        "nested": [{"tags": {"a"}}],
    }

    assert echo.dispatch(payload).result(timeout=10) == payload


def test_async_handlers_run_on_the_worker(app: Taskora) -> None:
    async def double(n: int) -> int:
        return n * 2

    task = app.task("double", double)
    app.start()

    assert task.dispatch(21).result(timeout=10) == 42


def test_aresult_awaits_without_blocking_the_loop(app: Taskora) -> None:
    import asyncio

    task = app.task("inc", lambda n: n + 1)
    app.start()

    async def main() -> int:
        return await task.dispatch(1).aresult(timeout=10)

    assert asyncio.run(main()) == 2


# -- bad input: a clear error where it was written, and nothing enqueued ---------------------------


def test_non_serializable_payload_is_refused_before_enqueue(app: Taskora) -> None:
    task = app.task("t", lambda data: data)

    with pytest.raises(SerializationError, match="object"):
        task.dispatch({"handle": object()})

    assert app.adapter.counts("t")["waiting"] == 0


def test_unknown_dispatch_option_is_named(app: Taskora) -> None:
    task = app.task("t", lambda data: data)

    with pytest.raises(ConfigurationError, match="dealy"):
        task.dispatch(1, dealy=5)

    assert app.adapter.counts("t")["waiting"] == 0


def test_negative_delay_is_refused(app: Taskora) -> None:
    task = app.task("t", lambda data: data)

    with pytest.raises(ConfigurationError, match="delay"):
        task.dispatch(1, delay=-1)

    assert app.adapter.counts("t") == {k: 0 for k in app.adapter.counts("t")}


def test_task_name_used_twice_is_refused(app: Taskora) -> None:
    app.task("dup", lambda data: data)

    with pytest.raises(ConfigurationError, match="dup"):
        app.task("dup", lambda data: data)


def test_unknown_task_option_is_named(app: Taskora) -> None:
    with pytest.raises(ConfigurationError, match="retires"):
        app.task("t", lambda data: data, retires=3)


def test_bad_retry_option_is_named(app: Taskora) -> None:
    with pytest.raises(ConfigurationError, match="backoff"):
        app.task("t", lambda data: data, retry={"attempts": 3, "backoff": "quadratic"})


def test_dispatch_by_unknown_name_lists_known_tasks(app: Taskora) -> None:
    app.task("known", lambda data: data)

    with pytest.raises(KeyError, match="known"):
        app.dispatch("unknown", 1)


def test_dispatch_many_spans_batches_and_tasks_keeping_order(app: Taskora) -> None:
    first = app.task("first", lambda data: ("first", data))
    handles = first.dispatch_many(list(range(250)))  # three engine batches
    again = first.dispatch_many([(0, {"job_id": handles[0].id}), 250])
    counts = app.adapter.counts("first")

    assert [h.enqueued for h in again] == [False, True]  # an existing id is not enqueued twice
    assert counts["waiting"] == 251
    app.start()
    assert [h.result(timeout=20) for h in handles[::50]] == [("first", i) for i in range(0, 250, 50)]


def test_small_results_ride_on_the_completed_event_and_large_ones_do_not(app: Taskora) -> None:
    echo = app.task("echo", lambda data: data)
    app.start()
    small, large = echo.dispatch("x" * 10), echo.dispatch("y" * 5000)

    assert small.result(timeout=10) == "x" * 10 and large.result(timeout=10) == "y" * 5000
    stream = app.adapter.client.xrange(app.adapter.keys.events("echo"))
    completed = {f[b"jobId"].decode(): f for _, f in stream if f[b"event"] == b"completed"}
    assert completed[small.id][b"result"] == b'"' + b"x" * 10 + b'"'
    assert b"result" not in completed[large.id]


def test_a_producer_done_waiting_stops_reading_the_tasks_events(app: Taskora) -> None:
    # Once nobody in this process waits on a job of the task (and nothing listens), its event stream
    # leaves the shared reader (which aresult always uses), so later jobs no longer wake this process.
    stream = app.adapter.keys.events("double")
    reading = threading.Event()

    def double_once_read(n: int) -> int:  # the first job ends only once the reader reads its stream
        assert reading.wait(10)
        return n * 2

    double = app.task("double", double_once_read)
    streams_read: list[set[str]] = []
    read_events = app.adapter.read_events

    def spy(positions: dict[str, str], block_ms: int, count: int = 500) -> list:
        streams_read.append(set(positions))
        if stream in positions:
            reading.set()
        return read_events(positions, block_ms, count)

    app.adapter.read_events = spy  # type: ignore[method-assign]
    app.start()
    assert asyncio.run(double.dispatch(1).aresult(timeout=10)) == 2
    reads_while_waiting = len(streams_read)
    assert reads_while_waiting > 0
    later = [double.dispatch(n) for n in range(20)]
    wait_until(lambda: all(h.state() == "completed" for h in later), what="20 more jobs completed")
    assert not any(stream in read for read in streams_read[reads_while_waiting:])
    assert asyncio.run(double.dispatch(21).aresult(timeout=10)) == 42  # waiting again reads it again
    assert stream in streams_read[-1]


def test_threads_waiting_at_once_each_get_their_own_result(app: Taskora) -> None:
    # The first waiter of a task reads its events itself, the others share the app's reader; a waiter
    # whose job is already done, or fails, or outlives its timeout is answered the same either way.
    slow = threading.Event()

    def work(n: int) -> int:
        if n == -1:
            raise ValueError("minus one")
        if n == -2:
            slow.wait(10)
        return n * 10

    task = app.task("many-waiters", work, concurrency=4)
    app.start()
    done_before = task.dispatch(7)
    assert done_before.result(timeout=10) == 70
    outcomes: dict[int, object] = {}

    def wait_on(n: int) -> None:
        handle = task.dispatch(n)
        try:
            outcomes[n] = handle.result(timeout=0.5 if n == -2 else 10)
        except Exception as exc:  # noqa: BLE001 - the test records which error each waiter saw
            outcomes[n] = type(exc).__name__

    threads = [threading.Thread(target=wait_on, args=(n,)) for n in [-2, -1, *range(12)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    slow.set()
    assert done_before.result(timeout=1) == 70
    assert outcomes == {-2: "TimeoutError", -1: "JobFailedError", **{n: n * 10 for n in range(12)}}


def test_an_enqueue_sent_again_after_its_reply_was_lost_still_reports_the_job_created(make_app) -> None:
    """A connection lost between the write and its reply makes the caller send the enqueue again (the adapter's
    resend on a fresh connection, a background sender's retry), and Redis then answers that the job exists. For an
    id taskora made for this dispatch that can only be the first send's job: the handle says it was enqueued. For
    an id the caller chose, another dispatch may have made it: the answer stays "already there"."""
    app = make_app()
    task = app.task("resent", lambda d: d)
    minted = task.build_request({"n": 1}, {})
    chosen = task.build_request({"n": 2}, {"job_id": "chosen-id"})
    assert [app.adapter.enqueue(minted), app.adapter.enqueue(chosen)] == [True, True]
    assert [app.adapter.enqueue(minted), app.adapter.enqueue(chosen)] == [True, False]  # sent again
    assert app.adapter.enqueue_many([minted, chosen]) == [True, False]
    assert task.dispatch({"n": 3}, job_id="chosen-id").enqueued is False
    assert app.adapter.counts("resent")["waiting"] == 2
