"""taskora.testing.TestRunner: the real engine in memory, on a virtual clock, without threads.

``execute`` goes through the queue (dispatch, claim, ack/fail, retries through the delayed set, time
jumped over backoff); ``run`` calls the handler directly with an inline retry loop; ``advance_time``
steps through every due moment (delays, retries, schedules, TTLs, registered timed work).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from taskora import Taskora, chain
from taskora.clock import TimedWork, register_timed_work, unregister_timed_work
from taskora.errors import ConfigurationError, TaskoraError
from taskora.testing import TestRunner, WorkflowStep, create_test_runner
from tests.waiting import wait_until

T0 = 1_700_000_000_000
MINUTE = 60_000


@pytest.fixture
def production_app() -> Taskora:
    app = Taskora("redis://127.0.0.1:1/0")  # never contacted: the runner wraps it

    @app.task("send-email", retry={"attempts": 3, "backoff": "exponential", "delay": "10m", "jitter": False})
    def send_email(data, ctx):
        ctx.log.info("sending", to=data["to"])
        ctx.progress(100)
        if ctx.attempt < 3:
            raise ConnectionError("smtp down")
        return {"sent_to": data["to"], "attempt": ctx.attempt}

    return app


# -- execute: the full pipeline -------------------------------------------------------------------


def test_execute_jumps_over_retry_backoff_instantly(production_app: Taskora) -> None:
    runner = TestRunner.from_app(production_app)
    started = runner.clock.now_ms()

    outcome = runner.execute("send-email", {"to": "a@b.c"})

    assert outcome.state == "completed"
    assert outcome.result == {"sent_to": "a@b.c", "attempt": 3}
    assert outcome.attempts == 3
    assert outcome.progress == 100
    assert [e["message"] for e in outcome.logs] == ["sending"] * 3
    assert [e["timestamp"] - started for e in outcome.logs] == [0, 10 * MINUTE, 30 * MINUTE]  # the virtual clock
    assert outcome.handle is not None and outcome.handle.result(timeout=0) == outcome.result
    assert runner.clock.now_ms() - started == (10 + 20) * MINUTE  # 10 min, then 20 min of backoff
    runner.dispose()


def test_execute_reports_a_final_failure_with_its_error() -> None:
    runner = TestRunner()
    runner.task("always-fails", lambda data: 1 / 0, retry={"attempts": 2, "jitter": False})

    outcome = runner.execute("always-fails", {})

    assert (outcome.state, outcome.attempts) == ("failed", 2)
    assert outcome.error == "division by zero"  # the bare message, as TypeScript stores it (guide/interop.md)


def test_jobs_dispatched_by_handlers_are_processed_too() -> None:
    runner = TestRunner()
    square = runner.task("square", lambda n: n * n)
    fan_out = runner.task("fan-out", lambda n: [square.dispatch(i).id for i in range(n)])

    outcome = runner.execute(fan_out, 4)

    results = [runner.app.handle("square", job_id).result(timeout=0) for job_id in outcome.result]
    assert results == [0, 1, 4, 9]
    assert [j["state"] for j in runner.jobs_of(square)] == ["completed"] * 4
    assert {j["task"] for j in runner.jobs} == {"square", "fan-out"}


# -- run: the handler directly ----------------------------------------------------------------------


def test_run_calls_the_handler_directly_with_middleware_and_inline_retries() -> None:
    runner = TestRunner()
    calls: list[str] = []

    def around(mctx, call_next):
        calls.append("before")
        result = call_next()
        calls.append("after")
        return result

    def flaky(data, ctx):
        calls.append(f"attempt {ctx.attempt}")
        ctx.progress(50)
        ctx.log.info("trying")
        if ctx.attempt < 3:
            raise ConnectionError("down")
        return data.upper()

    runner.task("flaky", flaky, retry={"attempts": 3, "delay": "1h"}, middleware=[around])
    started = runner.clock.now_ms()

    assert runner.run("flaky", "hello") == "HELLO"
    assert calls == ["before", "attempt 1", "before", "attempt 2", "before", "attempt 3", "after"]
    assert runner.jobs == []  # no queue involved
    assert runner.clock.now_ms() == started  # retried inline, no time passes


def test_run_raises_the_handlers_own_error_after_the_last_attempt() -> None:
    runner = TestRunner()
    attempts: list[int] = []

    def broken(data, ctx):
        attempts.append(ctx.attempt)
        raise KeyError("missing")

    runner.task("broken", broken, retry={"attempts": 2})
    runner.task("validate", lambda data: int("x"), retry={"attempts": 5, "no_retry_on": [ValueError]})

    with pytest.raises(KeyError, match="missing"):
        runner.run("broken", None)
    assert attempts == [1, 2]
    with pytest.raises(ValueError):  # not retried: the policy says so
        runner.run("validate", None)


def test_run_gives_ctx_retry_data_to_the_next_attempt() -> None:
    runner = TestRunner()

    def shrink(data, ctx):
        if data > 1:
            raise ctx.retry(data=data // 2)
        return ctx.attempt

    runner.task("shrink", shrink, retry={"attempts": 10})

    assert runner.run("shrink", 8) == 4  # 8, 4, 2, 1


# -- from-instance mode -------------------------------------------------------------------------------


def test_from_mode_routes_the_apps_own_task_objects_to_memory_until_dispose() -> None:
    app = Taskora("redis://127.0.0.1:1/0")  # unreachable: any real dispatch would fail
    original = app.adapter

    @app.task("send-confirmation")
    def send_confirmation(order_id):
        return f"confirmed {order_id}"

    @app.task("process-order")
    def process_order(data):
        return send_confirmation.dispatch(data["order_id"]).id  # a module-level task object

    runner = create_test_runner(from_=app)
    outcome = runner.execute(process_order, {"order_id": "123"})

    assert outcome.state == "completed"
    assert app.handle("send-confirmation", outcome.result).result(timeout=0) == "confirmed 123"
    assert runner.app is app and app.adapter is runner.adapter
    runner.dispose()
    assert app.adapter is original


def test_from_mode_refuses_a_started_app_and_a_second_serializer() -> None:
    app = Taskora()
    app.task("t", lambda d: d)
    with pytest.raises(ConfigurationError, match="serializer"):
        TestRunner(from_=app, serializer="json")
    app.start()
    try:
        with pytest.raises(ConfigurationError, match="is started"):
            TestRunner(from_=app)
    finally:
        app.close()


# -- virtual time -------------------------------------------------------------------------------------


def test_delayed_jobs_wait_for_advance_time() -> None:
    runner = TestRunner()
    seen: list[int] = []
    task = runner.task("record", lambda n: seen.append(n))
    task.dispatch(1, delay="1h")
    task.dispatch(2)

    assert runner.process_all() == 1 and seen == [2]
    assert runner.advance_time("59m") == 0
    assert runner.advance_time("1m") == 1 and seen == [2, 1]


def test_an_every_10_minutes_schedule_fires_six_times_in_an_hour() -> None:
    runner = TestRunner(start_ms=T0)
    fired_at: list[int] = []
    runner.task("report", lambda data: fired_at.append(runner.clock.now_ms()), schedule={"every": "10m"})

    assert runner.advance_time("1h") == 6

    assert fired_at == [T0 + n * 10 * MINUTE for n in range(1, 7)]
    assert runner.clock.now_ms() == T0 + 60 * MINUTE


def test_a_named_cron_schedule_fires_at_its_times() -> None:
    runner = TestRunner(start_ms=T0)  # 2023-11-14 22:13:20 UTC
    runner.task("digest", lambda data: data)
    runner.app.schedule("hourly", task="digest", cron="0 * * * *", data={"kind": "hourly"})

    runner.advance_time("3h")

    runs = sorted(int(j["scheduledAt"]) for j in runner.jobs_of("digest"))
    hour = 60 * MINUTE
    first = (T0 // hour + 1) * hour
    assert runs == [first, first + hour, first + 2 * hour]


def test_retries_during_advance_time_run_at_their_times() -> None:
    runner = TestRunner(start_ms=T0)
    ran_at: list[int] = []

    def flaky(data):
        ran_at.append(runner.clock.now_ms())
        raise ConnectionError("down")

    runner.task("flaky", flaky, retry={"attempts": 4, "backoff": "fixed", "delay": "10m", "jitter": False})
    handle = runner.dispatch("flaky", {})
    runner.process_all()  # the first attempt now; advance_time moves the clock before it processes

    runner.advance_time("25m")

    assert ran_at == [T0, T0 + 10 * MINUTE, T0 + 20 * MINUTE]
    assert handle.state() == "retrying"  # the 4th attempt is due at +30m
    runner.advance_time("5m")
    assert handle.state() == "failed" and len(ran_at) == 4


def test_a_job_whose_ttl_passes_is_expired_when_time_is_advanced() -> None:
    runner = TestRunner()
    ran: list[Any] = []
    runner.task("fresh-only", ran.append)
    stale = runner.dispatch("fresh-only", "stale", ttl="1m")

    runner.advance_time("2m")

    assert stale.state() == "expired" and ran == []


def test_advance_time_rejects_going_back_and_bad_durations() -> None:
    runner = TestRunner()
    with pytest.raises(ConfigurationError, match="must not be negative"):
        runner.advance_time(-5)
    with pytest.raises(ConfigurationError, match="advance_time"):
        runner.advance_time("soon")


# -- timed work, flush, steps, clear ---------------------------------------------------------------


class Buffer:
    """A toy time-based feature: items wait in a list until 5 s after the first, then go out as one job."""

    def __init__(self, task: str) -> None:
        self.task, self.items, self.first_at = task, [], None  # type: list[Any] | Any
        self.work = TimedWork("toy-buffer", self.next_due, self.run_due, self.flush)

    def add(self, app: Taskora, item: Any) -> None:
        self.first_at = self.first_at or app.adapter.now_ms()
        self.items.append(item)

    def next_due(self, app: Taskora) -> int | None:
        return None if self.first_at is None else self.first_at + 5_000

    def run_due(self, app: Taskora) -> int:
        due = self.next_due(app)
        return self.flush(app, self.task, None) if due is not None and due <= app.adapter.now_ms() else 0

    def flush(self, app: Taskora, task: str, key: str | None) -> int:
        if task != self.task or not self.items:
            return 0
        app.dispatch(task, list(self.items))
        self.items.clear()
        self.first_at = None
        return 1


@pytest.fixture
def buffer() -> Iterator[Buffer]:
    toy = Buffer("batch")
    register_timed_work(toy.work)
    yield toy
    unregister_timed_work(toy.work.name)


def test_registered_timed_work_falls_due_on_the_virtual_clock(buffer: Buffer) -> None:
    runner = TestRunner(start_ms=T0)
    batches: list[tuple[int, list[int]]] = []
    runner.task("batch", lambda items: batches.append((runner.clock.now_ms(), items)))
    buffer.add(runner.app, 1)
    buffer.add(runner.app, 2)

    runner.advance_time("4s")
    assert batches == []
    runner.advance_time("10s")
    assert batches == [(T0 + 5_000, [1, 2])]  # at its moment, not at the end of the advance


def test_flush_forces_buffers_out_and_processes_the_batch(buffer: Buffer) -> None:
    runner = TestRunner()
    batches: list[list[int]] = []
    runner.task("batch", batches.append)
    buffer.add(runner.app, 7)

    assert runner.flush("batch", "db-inserts") == 1
    assert batches == [[7]]


def test_flush_without_a_buffering_feature_says_so() -> None:
    runner = TestRunner()
    runner.task("batch", lambda items: items)
    with pytest.raises(ConfigurationError, match="flush.*'batch'.*no buffering feature"):
        runner.flush("batch")
    with pytest.raises(TaskoraError, match="no task named 'nope'"):
        runner.flush("nope")


def test_steps_record_each_workflow_node_in_order() -> None:
    runner = TestRunner()
    double = runner.task("double", lambda n: n * 2)
    add_one = runner.task("add-one", lambda n: n + 1)
    flow = chain(double.s(5), add_one.s(), double.s()).dispatch()

    runner.process_all()

    assert flow.result(timeout=5) == 22
    assert [(s.node_index, s.task_name, s.state) for s in runner.steps] == [
        (0, "double", "completed"), (1, "add-one", "completed"), (2, "double", "completed")]
    assert {s.workflow_id for s in runner.steps} == {flow.id}
    assert isinstance(runner.steps[0], WorkflowStep)


def test_clear_forgets_jobs_steps_and_time_but_keeps_tasks() -> None:
    runner = TestRunner(start_ms=T0)
    runner.task("t", lambda d: d).dispatch(1, delay="1m")
    runner.advance_time("2m")
    runner.clear()

    assert runner.jobs == [] and runner.steps == [] and "t" in runner.app.tasks
    assert runner.clock.now_ms() == T0


def test_a_wrapped_app_reads_results_from_each_runners_engine_in_turn() -> None:
    """Each wrap rebinds the app's event reader too: results of a second runner are not looked for in the first."""
    app = Taskora()
    app.task("echo", lambda data: data)
    for value in ("first", "second"):
        runner = TestRunner(from_=app)
        handle = runner.dispatch("echo", value)
        runner.process_all()
        assert handle.result(timeout=1) == value
        runner.dispose()
    app.close()


def test_a_started_worker_fires_registered_timed_work_from_its_maintenance(buffer: Buffer) -> None:
    """Production drives the same hooks: the worker's maintenance (about every second) calls run_due."""
    app = Taskora()
    batches: list[list[int]] = []
    app.task("batch", batches.append)
    clock_start = app.adapter.now_ms()
    buffer.add(app, 1)
    buffer.first_at = clock_start - 5_000  # already due
    app.start()
    try:
        wait_until(lambda: batches == [[1]], timeout=10, what="the worker's maintenance to flush the buffer")
    finally:
        app.close()


def test_execute_waits_out_a_long_delay_firing_the_schedules_on_the_way() -> None:
    runner = TestRunner(start_ms=T0)
    runner.task("heartbeat", lambda data: None, schedule={"every": "1m"})
    runner.task("later", lambda data: "done")

    outcome = runner.execute("later", {}, delay="1d")  # 1,440 schedule runs come due first

    assert (outcome.state, outcome.result) == ("completed", "done")
    assert runner.clock.now_ms() == T0 + 24 * 60 * MINUTE
    assert len(runner.jobs_of("heartbeat")) == 24 * 60
