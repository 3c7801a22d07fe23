"""What a running worker does around the handler, on both engines: timeouts, cancellation, events,
default logging, middleware, progress and logs, and the wire handshake."""

from __future__ import annotations

import logging
import queue
import threading

import pytest

from taskora import CancelledError, JobFailedError, SchemaVersionMismatchError, Taskora
from taskora.worker.feeder import FEEDER_MIN_SLOTS
from taskora.worker.loop import Worker
from tests.waiting import wait_until


def test_handler_timeout_fails_the_job_and_aborts_its_signal(app: Taskora) -> None:
    reasons: queue.Queue[str | None] = queue.Queue()

    def slow(data, ctx):
        ctx.signal.wait(5)
        reasons.put(ctx.signal.reason)

    task = app.task("slow", slow, timeout="100ms")
    app.start()

    with pytest.raises(JobFailedError, match="TimeoutError"):
        task.dispatch(None).result(timeout=10)
    assert reasons.get(timeout=5) == "timeout"


@pytest.mark.parametrize("slots", [1, FEEDER_MIN_SLOTS])
def test_a_result_that_cannot_be_serialized_fails_the_job_and_the_slot_goes_on(app: Taskora, slots: int) -> None:
    task = app.task("unreadable", lambda n: object() if n == 1 else n)
    worker = Worker(app, [task], concurrency=slots)
    worker.start()
    try:
        with pytest.raises(JobFailedError, match="SerializationError: cannot serialize <object object"):
            task.dispatch(1).result(timeout=10)
        assert task.dispatch(2).result(timeout=10) == 2
    finally:
        worker.stop(timeout=10)


def test_a_heartbeat_that_crashes_runs_again_and_keeps_the_locks(app: Taskora) -> None:
    release = threading.Event()
    task = app.task("held", lambda _: release.wait(10), stall={"interval": 0.6})  # a heartbeat every 0.2 s
    calls: list[int] = []
    extend_locks = app.adapter.extend_locks

    def flaky(jobs, ttl):  # the first beat hits a bug
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("a bug in the heartbeat")
        return extend_locks(jobs, ttl)

    app.adapter.extend_locks = flaky  # type: ignore[method-assign]
    worker = Worker(app, [task], concurrency=1)
    worker.start()
    try:
        handle = task.dispatch(None)
        wait_until(lambda: len(calls) >= 3, what="the heartbeat to beat again after its crash")
        release.set()
        assert handle.result(timeout=10) is True
        assert app.adapter.get_fields("held", handle.id, ["attempt"])["attempt"] == "1"  # it never ran twice
    finally:
        release.set()
        worker.stop(timeout=10)


def test_cancelling_a_waiting_job_cancels_it_at_once(app: Taskora) -> None:
    task = app.task("never-run", lambda data: "ran")
    handle = task.dispatch(None, delay=60)

    assert handle.cancel(reason="not needed") == "cancelled"

    assert handle.state() == "cancelled"
    with pytest.raises(CancelledError, match="not needed"):
        handle.result(timeout=5)


def test_cancelling_an_active_job_aborts_its_signal_and_calls_on_cancel(app: Taskora) -> None:
    started = threading.Event()
    cleaned: queue.Queue[tuple] = queue.Queue()

    def long_job(data, ctx):
        started.set()
        ctx.signal.wait(10)
        return "finished anyway"

    task = app.task("long", long_job, on_cancel=lambda data, reason: cleaned.put((data, reason)))
    app.start()
    handle = task.dispatch({"file": "x"})
    assert started.wait(10)

    assert handle.cancel(reason="user asked") == "flagged"

    with pytest.raises(CancelledError, match="user asked"):
        handle.result(timeout=10)
    assert cleaned.get(timeout=5) == ({"file": "x"}, "cancelled")
    assert handle.state() == "cancelled"


def test_cancel_reaches_the_worker_through_the_heartbeat_without_pubsub(make_app) -> None:
    app = make_app()
    started = threading.Event()
    task = app.task("long", lambda data, ctx: (started.set(), ctx.signal.wait(10)), stall={"interval": 0.3})
    worker = app.start()
    worker.cancels.close = lambda: None  # type: ignore[method-assign]
    worker.cancels.on_message = lambda raw: None  # type: ignore[method-assign] - the pub/sub message is "lost"
    handle = task.dispatch(None)
    assert started.wait(10)

    handle.cancel()

    with pytest.raises(CancelledError):
        handle.result(timeout=10)


def test_task_and_app_events_carry_results_errors_and_attempts(app: Taskora) -> None:
    events: queue.Queue = queue.Queue()
    ok = app.task("ok", lambda data: data * 2)
    bad = app.task("bad", lambda data: 1 / 0, retry={"attempts": 2, "delay": 0.01, "jitter": False})
    ok.on("completed", lambda e: events.put(("ok.completed", e.result, e.attempt)))
    app.on("task:failed", lambda e: events.put((f"{e.task}.failed", e.error, e.attempt)))
    app.on("task:retrying", lambda e: events.put((f"{e.task}.retrying", e.error, e.attempt)))
    app.start()

    ok.dispatch(21).result(timeout=10)
    with pytest.raises(JobFailedError):
        bad.dispatch(None).result(timeout=10)

    seen = [events.get(timeout=5) for _ in range(3)]
    assert ("ok.completed", 42, 1) in seen
    assert ("bad.retrying", "division by zero", 1) in seen  # the bare message, as TypeScript stores it
    assert ("bad.failed", "division by zero", 2) in seen


class _RecordWatcher(logging.Handler):
    """Collects log records and lets a test wait for one that matches."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> logging.LogRecord | None:
        with self._changed:
            self._changed.wait_for(lambda: any(text in r.getMessage() for r in self.records), timeout)
            return next((r for r in self.records if text in r.getMessage()), None)


@pytest.fixture
def worker_errors():
    watcher = _RecordWatcher()
    logger = logging.getLogger("taskora.worker")
    logger.addHandler(watcher)
    yield watcher
    logger.removeHandler(watcher)


def test_failures_are_logged_when_nobody_listens(app: Taskora, worker_errors: _RecordWatcher) -> None:
    loud = app.task("loud", lambda data: 1 / 0)
    app.start()

    with pytest.raises(JobFailedError):
        loud.dispatch(None).result(timeout=10)

    record = worker_errors.wait_for("loud", timeout=5)
    assert record is not None and record.exc_info and "ZeroDivisionError" in record.getMessage()


def test_a_failed_listener_replaces_the_default_log(app: Taskora, worker_errors: _RecordWatcher) -> None:
    quiet = app.task("quiet", lambda data: 1 / 0)
    marker = app.task("marker", lambda data: 1 / 0)
    heard: queue.Queue[str] = queue.Queue()
    quiet.on("failed", lambda e: heard.put(e.task))
    app.start()

    with pytest.raises(JobFailedError):
        quiet.dispatch(None).result(timeout=10)
    assert heard.get(timeout=5) == "quiet"

    # A later failure without a listener is logged; by then the quiet one would have been too.
    with pytest.raises(JobFailedError):
        marker.dispatch(None).result(timeout=10)
    assert worker_errors.wait_for("marker", timeout=5) is not None
    assert not [r for r in worker_errors.records if "quiet" in r.getMessage()]


def test_middleware_runs_as_an_onion_and_can_change_data_and_result(app: Taskora) -> None:
    order: list[str] = []

    def outer(ctx, call_next):
        order.append("outer-before")
        ctx.data = {**ctx.data, "seen_by": "outer"}
        result = call_next()
        order.append("outer-after")
        return {**result, "wrapped": True}

    def inner(ctx, call_next):
        order.append(f"inner-before:{ctx.task}:{ctx.attempt}")
        result = call_next()
        order.append("inner-after")
        return result

    app.use(outer)
    task = app.task("mw", lambda data: {"got": data}, middleware=[inner])
    app.start()

    result = task.dispatch({"x": 1}).result(timeout=10)

    assert result == {"got": {"x": 1, "seen_by": "outer"}, "wrapped": True}
    assert order == ["outer-before", "inner-before:mw:1", "inner-after", "outer-after"]


def test_progress_and_logs_are_readable_from_the_handle(app: Taskora) -> None:
    progress_events: queue.Queue = queue.Queue()

    def work(data, ctx):
        ctx.progress(50)
        ctx.log.info("halfway", step=1)
        ctx.progress({"done": 2, "of": 2})
        ctx.log.warn("almost")
        return "ok"

    task = app.task("work", work)
    task.on("progress", lambda e: progress_events.put(e.progress))
    app.start()
    handle = task.dispatch(None)

    assert handle.result(timeout=10) == "ok"
    assert handle.progress() == {"done": 2, "of": 2}
    assert [(e["level"], e["message"], e["meta"]) for e in handle.logs()] == [
        ("info", "halfway", {"step": 1}),
        ("warn", "almost", None),
    ]
    assert progress_events.get(timeout=5) == 50


def test_a_store_written_by_an_incompatible_wire_version_is_refused(make_app) -> None:
    app = make_app()
    app.adapter.client.hset(app.adapter.keys.meta, mapping={"wireVersion": 9, "minCompat": 8, "writtenBy": "future"})
    app.task("t", lambda data: data)

    with pytest.raises(SchemaVersionMismatchError, match="theirs_too_new"):
        app.start()


def test_the_first_process_writes_the_wire_meta(app: Taskora) -> None:
    app.adapter.connect()

    meta = {k.decode(): v.decode() for k, v in app.adapter.client.hgetall(app.adapter.keys.meta).items()}
    assert meta["wireVersion"] == "6" and meta["minCompat"] == "6" and meta["writtenBy"] == "taskora-wire-6"


def test_a_warm_stop_outliving_a_cold_one_leaves_the_torn_down_worker_alone(app: Taskora) -> None:
    """A warm stop waits for a stuck handler; a cold stop beside it tears the worker down, after which the
    owner may close the app. The warm stop returning later must not use the engine again (in CI it did: its
    ``mark_gone`` met a connection the owner's close had just taken away)."""
    started, release = threading.Event(), threading.Event()

    def stuck(_):
        started.set()
        release.wait(10)

    task = app.task("stuck", stuck)
    gone: list[str] = []
    mark_gone = app.adapter.mark_gone

    def counted(worker_id):
        gone.append(worker_id)
        return mark_gone(worker_id)

    app.adapter.mark_gone = counted  # type: ignore[method-assign]
    worker = Worker(app, [task], concurrency=1)
    worker.start()
    task.dispatch(None)
    assert started.wait(10)
    warm = threading.Thread(target=worker.stop)
    warm.start()
    worker.stop(0.0, cold=True)
    assert len(gone) == 1
    release.set()
    warm.join(10)
    assert not warm.is_alive() and len(gone) == 1
