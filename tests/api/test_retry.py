"""Retries and backoff (seeds: features/retry-backoff), on both engines.

Delays are read from the engine's own timestamps (the retrying event's failedAt and nextAttemptAt),
never from wall-clock sleeps.
"""

from __future__ import annotations

import random
import threading

import pytest

from taskora import JobFailedError, RetryError, Taskora, chain
from taskora import TimeoutError as TaskoraTimeout
from taskora.options import UNBOUNDED_ATTEMPTS, RetryPolicy, parse_retry
from taskora.retry import backoff_delay, should_retry


def _retry_delays(app: Taskora, retry: dict, attempts_to_fail: int) -> tuple[list[int], int]:
    """Run a task that fails ``attempts_to_fail`` times; return each retry's scheduled delay in ms."""
    delays: list[int] = []
    runs: list[int] = []

    def flaky(data, ctx):
        runs.append(ctx.attempt)
        if ctx.attempt <= attempts_to_fail:
            raise ConnectionError(f"attempt {ctx.attempt}")
        return ctx.attempt

    task = app.task("flaky", flaky, retry=retry)
    task.on("retrying", lambda e: delays.append(e.next_attempt_at - e.extra["failed_at"]))
    app.start()
    result = task.dispatch(None).result(timeout=20)
    return delays, result


def _stored_fields(app: Taskora, task: str, job_id: str) -> dict[bytes, bytes]:
    return app.adapter.client.hgetall(app.adapter.keys.task_prefix(task) + job_id)


def test_jobs_of_a_task_without_a_bound_on_attempts_store_no_max_attempts(app: Taskora) -> None:
    """Every such job would hold the same 2**31-1 (the Celery front's tasks all do): the worker reads it from the
    task instead, so ``ctx.max_attempts`` and the retries are as if it were stored."""
    seen: list[tuple[int, int]] = []

    def flaky(data, ctx):
        seen.append((ctx.attempt, ctx.max_attempts))
        if ctx.attempt < 3:
            raise ConnectionError(f"attempt {ctx.attempt}")
        return ctx.attempt

    unbounded = app.task("unbounded", flaky, retry={"attempts": UNBOUNDED_ATTEMPTS, "delay": 0, "jitter": False})
    bounded = app.task("bounded", flaky, retry={"attempts": 3, "delay": 0, "jitter": False})
    handles = {"unbounded": unbounded.dispatch(None), "bounded": bounded.dispatch(None)}
    stored = {name: _stored_fields(app, name, h.id).get(b"maxAttempts") for name, h in handles.items()}
    app.start()

    assert [h.result(timeout=20) for h in handles.values()] == [3, 3]
    assert stored == {"unbounded": None, "bounded": b"3"}
    assert sorted(seen) == [(1, 3), (1, UNBOUNDED_ATTEMPTS), (2, 3), (2, UNBOUNDED_ATTEMPTS), (3, 3),
                            (3, UNBOUNDED_ATTEMPTS)]


def test_workflow_steps_of_a_task_without_a_bound_on_attempts_store_no_max_attempts(app: Taskora) -> None:
    unbounded = app.task("unbounded", lambda n: n + 1, retry=UNBOUNDED_ATTEMPTS)
    bounded = app.task("bounded", lambda n: n * 2, retry=2)
    handle = chain(unbounded.s(1), bounded.s(), unbounded.s()).dispatch()
    app.start()

    assert handle.result(timeout=20) == 5
    steps = zip(("unbounded", "bounded", "unbounded"), handle.job_ids(), strict=True)
    assert [_stored_fields(app, task, job_id).get(b"maxAttempts") for task, job_id in steps] == [None, b"2", None]


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        ("fixed", [40, 40, 40]),
        ("linear", [40, 80, 120]),
        ("exponential", [40, 80, 160]),
        (lambda attempt: attempt * 0.01 + 0.005, [15, 25, 35]),
    ],
    ids=["fixed", "linear", "exponential", "callable"],
)
def test_each_backoff_strategy_schedules_its_delays(app: Taskora, backoff, expected) -> None:
    retry = {"attempts": 4, "backoff": backoff, "delay": "40ms", "jitter": False}

    delays, result = _retry_delays(app, retry, attempts_to_fail=3)

    assert result == 4
    assert delays == expected


def test_max_delay_caps_the_backoff(app: Taskora) -> None:
    retry = {"attempts": 4, "backoff": "exponential", "delay": 0.03, "max_delay": 0.05, "jitter": False}

    delays, _ = _retry_delays(app, retry, attempts_to_fail=3)

    assert delays == [30, 50, 50]


def test_jitter_keeps_each_delay_within_a_quarter(app: Taskora) -> None:
    retry = {"attempts": 3, "backoff": "fixed", "delay": 0.08, "jitter": True}

    delays, _ = _retry_delays(app, retry, attempts_to_fail=2)

    assert len(delays) == 2 and all(60 <= d <= 100 for d in delays)


def test_attempts_count_every_run_then_the_job_fails(app: Taskora) -> None:
    runs: list[int] = []

    def always(data, ctx):
        runs.append(ctx.attempt)
        raise ValueError("nope")

    task = app.task("always", always, retry={"attempts": 3, "delay": 0.01, "jitter": False})
    app.start()

    with pytest.raises(JobFailedError, match="ValueError: nope"):
        task.dispatch(None).result(timeout=20)
    assert runs == [1, 2, 3]


def test_manual_retry_uses_its_own_delay_and_ignores_filters(app: Taskora) -> None:
    delays: list[int] = []

    def polite(data, ctx):
        if ctx.attempt == 1:
            raise ctx.retry(delay="70ms", reason="rate limited")
        return "ok"

    task = app.task("polite", polite, retry={"attempts": 2, "retry_on": [KeyError], "delay": 5})
    task.on("retrying", lambda e: delays.append(e.next_attempt_at - e.extra["failed_at"]))
    app.start()

    assert task.dispatch(None).result(timeout=20) == "ok"
    assert delays == [70]


def test_retry_on_whitelists_and_no_retry_on_blacklists(app: Taskora) -> None:
    runs = {"white": 0, "black": 0}

    def white(data):
        runs["white"] += 1
        raise ValueError("not whitelisted")

    def black(data):
        runs["black"] += 1
        raise PermissionError("blacklisted")

    w = app.task("white", white, retry={"attempts": 3, "retry_on": [ConnectionError], "delay": 0.01})
    b = app.task("black", black, retry={"attempts": 3, "no_retry_on": [PermissionError], "delay": 0.01})
    app.start()

    for handle in (w.dispatch(None), b.dispatch(None)):
        with pytest.raises(JobFailedError):
            handle.result(timeout=20)
    assert runs == {"white": 1, "black": 1}


def test_a_timeout_is_not_retried_by_default(app: Taskora) -> None:
    runs: list[int] = []
    release = threading.Event()

    def slow(data, ctx):
        runs.append(ctx.attempt)
        ctx.signal.wait(5)
        release.set()

    task = app.task("slow", slow, timeout=0.1, retry={"attempts": 3, "delay": 0.01})
    app.start()

    with pytest.raises(JobFailedError, match="TimeoutError"):
        task.dispatch(None).result(timeout=20)
    assert release.wait(5), "the timed-out handler's signal was not aborted"
    assert runs == [1]


# -- the pure rules ---------------------------------------------------------------------------------


def test_should_retry_rules() -> None:
    policy = RetryPolicy(attempts=3)
    assert should_retry(policy, ValueError(), 1)
    assert not should_retry(policy, ValueError(), 3)
    assert should_retry(RetryPolicy(attempts=2, retry_on=(KeyError,)), RetryError(), 1)
    assert not should_retry(policy, TaskoraTimeout("t"), 1)
    assert should_retry(RetryPolicy(attempts=2, retry_on=(TaskoraTimeout,)), TaskoraTimeout("t"), 1)


def test_backoff_formulas() -> None:
    exp = parse_retry({"attempts": 9, "delay": "1s", "jitter": False})
    assert [backoff_delay(exp, a) for a in (1, 2, 3, 4)] == [1, 2, 4, 8]
    capped = parse_retry({"attempts": 9, "delay": 1, "max_delay": "3s", "jitter": False})
    assert backoff_delay(capped, 5) == 3
    jittered = parse_retry({"attempts": 9, "delay": 1, "backoff": "fixed"})
    rng = random.Random(7)
    assert all(0.75 <= backoff_delay(jittered, 1, rng) <= 1.25 for _ in range(200))


def test_a_manual_retry_can_give_the_next_attempt_new_data(app: Taskora) -> None:
    seen: list[object] = []

    def paginate(data, ctx):
        seen.append(data)
        if data["page"] < 3:
            raise ctx.retry(delay=0.01, data={"page": data["page"] + 1})
        return data["page"]

    task = app.task("paginate", paginate, retry={"attempts": 5})
    app.start()

    assert task.dispatch({"page": 1}).result(timeout=20) == 3
    assert seen == [{"page": 1}, {"page": 2}, {"page": 3}]


def test_retry_data_that_cannot_be_serialized_fails_in_the_handler(app: Taskora) -> None:
    task = app.task("bad-retry", lambda data, ctx: (_ for _ in ()).throw(ctx.retry(data=object())),
                    retry={"attempts": 2})
    app.start()

    with pytest.raises(JobFailedError, match="SerializationError"):
        task.dispatch(None).result(timeout=20)
