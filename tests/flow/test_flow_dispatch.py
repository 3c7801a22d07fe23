"""Dispatch-time flow control (debounce, throttle, deduplicate) on both engines: what is admitted, what is
replaced, when a dedup key is released, and that a bad option writes nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
import redis

from taskora import ConfigurationError, DuplicateJobError, JobFailedError, JobNotFoundError, Taskora, ThrottledError
from taskora.clock import VirtualClock
from tests.waiting import wait_until


def _store(app: Taskora) -> Any:
    return app.adapter.raw_client()


def _keys(app: Taskora, pattern: str = "*") -> list[str]:
    return sorted(k.decode() for k in _store(app).keys(pattern))


# -- debounce -----------------------------------------------------------------------------------------
def test_debounce_keeps_only_the_last_of_ten_rapid_dispatches(app: Taskora) -> None:
    runs: list[int] = []
    task = app.task("reindex", lambda n: runs.append(n) or n)
    replaced: list[Any] = []
    task.on("debounced", replaced.append)

    handles = [task.dispatch(n, debounce={"key": "doc:1", "delay": "300ms"}) for n in range(10)]
    app.start()

    assert all(h.enqueued for h in handles)
    assert handles[-1].result(timeout=10) == 9
    assert runs == [9]
    assert [h.state() for h in handles[:-1]] == [None] * 9  # replaced jobs are deleted, as TypeScript does
    wait_until(lambda: len(replaced) == 9, what="nine debounced events")
    assert [e.extra["replaced_by"] for e in replaced] == [h.id for h in handles[1:]]


def test_debounce_leaves_a_job_that_already_started_alone(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("reindex", lambda n: n)
    first = task.dispatch(1, debounce={"key": "k", "delay": "2s"})
    clock.advance(1.0)
    second = task.dispatch(2, debounce={"key": "k", "delay": "2s"})  # within the window: replaces the first
    assert first.state() is None and second.state() == "delayed"
    clock.advance(2.5)  # the window ended: the next claim promotes and runs the second
    app.start()
    assert second.result(timeout=10) == 2
    third = task.dispatch(3, debounce={"key": "k", "delay": "2s"})
    assert second.state() == "completed" and third.state() == "delayed"


# -- throttle -----------------------------------------------------------------------------------------
def test_throttle_admits_exactly_max_per_window_across_four_threads(app: Taskora) -> None:
    task = app.task("call-api", lambda n: n)
    accepted: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def producer() -> None:
        start.wait()
        for n in range(25):
            handle = task.dispatch(n, throttle={"key": "stripe", "max": 30, "window": "1m"})
            if handle.enqueued:
                with lock:
                    accepted.append(handle.id)

    threads = [threading.Thread(target=producer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert len(accepted) == 30
    assert app.inspect().stats(task="call-api")["waiting"] == 30
    assert _store(app).get("taskora:{call-api}:throttle:stripe") == b"30"


def test_a_throttled_dispatch_writes_nothing_or_raises_with_throw_on_reject(app: Taskora) -> None:
    task = app.task("call-api", lambda n: n)
    config = {"key": "t1", "max": 2, "window": "2s"}
    assert [task.dispatch(n, throttle=config).enqueued for n in range(2)] == [True, True]
    before = _keys(app)

    rejected = task.dispatch(3, throttle=config)
    assert rejected.enqueued is False and rejected.state() is None
    with pytest.raises(ThrottledError) as caught:
        task.dispatch(4, throttle=config, throw_on_reject=True)
    assert caught.value.key == "t1"
    assert _keys(app) == before
    assert 0 < _store(app).pttl("taskora:{call-api}:throttle:t1") <= 2000


def test_throttle_admits_exactly_max_across_two_processes(redis_url: str) -> None:
    script = (
        "import sys\nfrom taskora import Taskora\nfrom taskora.redis import redis_adapter\n"
        "app = Taskora(redis_adapter(sys.argv[1]))\ntask = app.task('call-api', lambda n: n)\n"
        "print(sum(task.dispatch(n, throttle={'key': 'shared', 'max': 40, 'window': '1m'}).enqueued "
        "for n in range(60)))\napp.close()\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, redis_url], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    counts = [int(p.communicate(timeout=60)[0]) for p in procs]

    assert sum(counts) == 40
    client = redis.Redis.from_url(redis_url)
    assert client.llen("taskora:{call-api}:wait") == 40


# -- deduplicate --------------------------------------------------------------------------------------
def test_deduplicate_returns_the_active_job_then_accepts_a_new_one_after_completion(app: Taskora) -> None:
    started, release = threading.Event(), threading.Event()

    def report(n: int) -> int:
        started.set()
        release.wait(10)
        return n

    task = app.task("report", report)
    app.start()
    first = task.dispatch(1, deduplicate={"key": "user:7"})
    assert started.wait(10)

    again = task.dispatch(2, deduplicate={"key": "user:7"})
    assert (again.enqueued, again.existing_id, again.id) == (False, first.id, first.id)
    with pytest.raises(DuplicateJobError) as caught:
        task.dispatch(3, deduplicate={"key": "user:7"}, throw_on_reject=True)
    assert (caught.value.key, caught.value.existing_id) == ("user:7", first.id)
    assert app.inspect().find(first.id).dedup_key == "user:7"

    release.set()
    assert first.result(timeout=10) == 1
    assert _store(app).exists("taskora:{report}:dedup:user:7") == 0
    after = task.dispatch(4, deduplicate={"key": "user:7"})
    assert after.enqueued and after.id != first.id
    assert after.result(timeout=10) == 4


def test_the_dedup_key_is_gone_after_a_failure(app: Taskora) -> None:
    def broken(n: int) -> int:
        raise RuntimeError("boom")

    task = app.task("report", broken)
    app.start()
    handle = task.dispatch(1, deduplicate={"key": "k"})
    with pytest.raises(JobFailedError):
        handle.result(timeout=10)
    assert _store(app).exists("taskora:{report}:dedup:k") == 0
    assert task.dispatch(2, deduplicate={"key": "k"}).enqueued


def test_the_dedup_key_is_gone_after_a_cancel_waiting_or_active(app: Taskora) -> None:
    started = threading.Event()

    def slow(n: int, ctx: Any) -> int:
        started.set()
        while n == 2 and not ctx.signal.aborted:  # the job cancelled while active; job 3 ends at once
            ctx.signal.wait(0.05)
        return n

    task = app.task("report", slow)
    waiting = task.dispatch(1, deduplicate={"key": "w"})
    waiting.cancel(reason="no longer needed")
    assert _store(app).exists("taskora:{report}:dedup:w") == 0

    app.start()
    active = task.dispatch(2, deduplicate={"key": "a"})
    assert started.wait(10)
    active.cancel()
    wait_until(lambda: active.state() == "cancelled", what="the active job cancelled")
    assert _store(app).exists("taskora:{report}:dedup:a") == 0
    assert task.dispatch(3, deduplicate={"key": "a"}).enqueued


def test_the_dedup_key_is_gone_after_expiry(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("report", lambda n: n)
    handle = task.dispatch(1, deduplicate={"key": "k"}, ttl="1s")
    clock.advance(2)
    app.start()
    wait_until(lambda: handle.state() == "expired", what="the job expired")
    assert _store(app).exists("taskora:{report}:dedup:k") == 0


def test_deduplicate_while_waiting_only_admits_a_job_once_the_holder_runs(app: Taskora) -> None:
    started, release = threading.Event(), threading.Event()
    task = app.task("report", lambda n: (started.set(), release.wait(10), n)[2])
    first = task.dispatch(1, deduplicate={"key": "k", "while": ["waiting"]})
    assert task.dispatch(2, deduplicate={"key": "k", "while": ["waiting"]}).existing_id == first.id
    app.start()
    assert started.wait(10)
    second = task.dispatch(3, deduplicate={"key": "k", "while": ["waiting"]})
    assert second.enqueued
    # The first job ending does not release the key the second now holds.
    release.set()
    assert first.result(timeout=10) == 1
    assert second.result(timeout=10) == 3


def test_a_completed_job_without_a_kept_result_releases_its_key(make_app: Callable[..., Taskora]) -> None:
    app = make_app()
    task = app.task("report", lambda n: n, keep_result=False)
    app.start()
    handle = task.dispatch(1, deduplicate={"key": "k"})
    wait_until(lambda: handle.state() is None, what="the job completed and deleted")
    assert _store(app).exists("taskora:{report}:dedup:k") == 0


# -- bad options --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "named"), [
    ({"debounce": {"key": "k", "delay": "1s"}, "throttle": {"key": "k", "max": 1, "window": "1s"}},
     "debounce and throttle are mutually exclusive"),
    ({"deduplicate": {"key": "k"}, "throttle": {"key": "k", "max": 1, "window": "1s"}},
     "throttle and deduplicate are mutually exclusive"),
    ({"debounce": {"key": "k", "delay": "1s"}, "delay": 5}, "debounce and delay are mutually exclusive"),
    ({"debounce": {"key": "k"}}, "debounce needs a delay"),
    ({"debounce": {"key": "k", "delay": 0}}, "debounce.delay must be at least 1 ms"),
    ({"throttle": {"key": "k", "max": 0, "window": "1m"}}, "throttle.max must be an integer >= 1"),
    ({"throttle": {"key": "k", "max": True, "window": "1m"}}, "throttle.max must be an integer >= 1"),
    ({"throttle": {"key": "k", "max": 5}}, "throttle.window is required"),
    ({"throttle": {"key": "k", "max": 5, "window": "soon"}}, "throttle.window: cannot read 'soon'"),
    ({"throttle": {"key": "k", "max": 5, "window": [60]}}, "throttle.window: expected a duration, got list"),
    ({"throttle": {"key": "k", "max": 5, "window": -1}}, "throttle.window: must not be negative"),
    ({"throttle": {"key": "k", "max": 5, "window": "1m", "burst": 2}}, "unknown field(s) burst"),
    ({"deduplicate": {"key": 42}}, "deduplicate.key must be a non-empty string, got int"),
    ({"deduplicate": {"key": ""}}, "deduplicate.key must be a non-empty string"),
    ({"deduplicate": {"key": "k", "while": ["completed"]}}, "unknown state(s) ['completed']"),
    ({"deduplicate": {"key": "k", "while": "active"}}, "deduplicate.while must be a non-empty list"),
    ({"deduplicate": "k"}, "deduplicate must be a dict with key, while, got str"),
    ({"deduplicate": {"key": "k"}, "throw_on_reject": "yes"}, "throw_on_reject must be True or False"),
])  # fmt: skip
def test_bad_flow_control_is_refused_at_the_call_site_and_writes_nothing(
        app: Taskora, options: dict[str, Any], named: str) -> None:  # fmt: skip
    task = app.task("report", lambda n: n)
    with pytest.raises(ConfigurationError, match=r"report\.dispatch") as caught:
        task.dispatch(1, **options)
    assert named in str(caught.value)
    assert _keys(app, "taskora:{report}:*") == []


# -- virtual time (TestRunner) ------------------------------------------------------------------------
def test_throttle_and_debounce_windows_follow_the_test_runners_virtual_clock() -> None:
    from taskora.testing import TestRunner

    runner = TestRunner()
    runs: list[int] = []
    task = runner.task("call-api", lambda n: runs.append(n) or n)
    limit = {"key": "api", "max": 2, "window": "1h"}
    assert [runner.dispatch(task, n, throttle=limit).enqueued for n in range(3)] == [True, True, False]
    runner.advance_time("59m")
    assert runner.dispatch(task, 3, throttle=limit).enqueued is False
    runner.advance_time("2m")  # the hour is over by the virtual clock, long before Redis' TTL
    assert runner.dispatch(task, 4, throttle=limit).enqueued
    runner.process_all()

    runs.clear()
    for n in range(5):
        runner.dispatch(task, n, debounce={"key": "k", "delay": "10m"})
        runner.advance_time("5m")  # each within the window of the one before
    assert runs == []
    runner.advance_time("6m")
    assert runs == [4]
    runner.dispose()


def test_a_job_id_that_names_a_flow_control_key_is_refused(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    task.dispatch(1, deduplicate={"key": "k1"})
    with pytest.raises(ConfigurationError, match="reserved"):
        task.dispatch(2, job_id="dedup:k1")
    assert _store(app).type("taskora:{report}:dedup:k1") == b"string"


def test_a_job_waiting_for_its_retry_still_holds_its_key(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    failed_once = threading.Event()

    def flaky(n: int) -> int:
        if not failed_once.is_set():
            failed_once.set()
            raise RuntimeError("first attempt fails")
        return n

    task = app.task("report", flaky, retry={"attempts": 2, "delay": "1h", "jitter": False})
    app.start()
    first = task.dispatch(1, deduplicate={"key": "k", "while": ["delayed"]})
    wait_until(lambda: first.state() == "retrying", what="the job waiting for its retry")

    again = task.dispatch(2, deduplicate={"key": "k", "while": ["delayed"]})
    assert (again.enqueued, again.existing_id) == (False, first.id)


def test_a_wait_on_a_replaced_debounce_job_ends_naming_the_job_that_replaced_it(app: Taskora) -> None:
    task = app.task("reindex", lambda n: n)
    first = task.dispatch(1, debounce={"key": "k", "delay": "1h"})
    waited: list[BaseException] = []

    def wait() -> None:
        try:
            first.result()
        except JobNotFoundError as exc:
            waited.append(exc)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    wait_until(lambda: app._events_reader()._waiting_on["reindex"] > 0 or app._events_reader()._alone_on["reindex"],
               what="the waiter reading the stream")
    second = task.dispatch(2, debounce={"key": "k", "delay": "1h"})
    waiter.join(10)
    assert [e.replaced_by for e in waited] == [second.id]  # type: ignore[attr-defined]
    with pytest.raises(JobNotFoundError):  # replaced before the wait began: found at once
        first.result()
