"""Rate limits: one limiter in the engine's claim, shared by every worker of the Redis.

The engine part runs on both adapters (redis-server and the in-memory engine, same Lua) with a
virtual clock; the cluster-wide part runs real ``taskora worker -A`` processes (one, then three) and
measures the spread of the jobs' own start times (``processedOn``), never a sleep.
"""

from __future__ import annotations

import textwrap
import uuid

import pytest
from taskora.compat import Celery
from taskora.compat.exceptions import ImproperlyConfigured

from taskora import ConfigurationError, Taskora
from taskora.clock import VirtualClock
from taskora.rate_limits import RateLimit, parse_rate_limit, rate_limit_of, set_rate_limit
from taskora.worker.loop import Worker
from tests.compat.celery_helpers import CeleryWorker
from tests.waiting import wait_until


@pytest.mark.parametrize(("given", "expected"), [
    ("10/s", RateLimit(10, 1)), ("100/m", RateLimit(100, 60)), ("5/h", RateLimit(5, 3600)),
    ("10/sec", RateLimit(10, 1)), ("7", RateLimit(7, 1)), (2.5, RateLimit(2.5, 1)),
    ({"limit": 5, "per": "1s"}, RateLimit(5, 1)), ({"limit": 3, "per": 60}, RateLimit(3, 60)),
    (None, None), (0, None), ("0/s", None), ("", None),
])  # fmt: skip
def test_rate_limits_are_read_as_celery_writes_them(given, expected):
    assert parse_rate_limit(given) == expected


@pytest.mark.parametrize(("given", "named"), [
    ("10/d", "unknown period"), ("ten/s", "'ten' is not a number"), (-1, ">= 0"), (True, "not a rate limit"),
    ({"limit": 5, "every": 1}, "needs 'limit'"), ({"limit": "5"}, "'limit' must be a number"), ([5], "not a rate"),
])  # fmt: skip
def test_a_bad_rate_limit_is_refused_naming_it(given, named):
    with pytest.raises(ConfigurationError, match="rate_limit") as info:
        parse_rate_limit(given)
    assert named in str(info.value)


def test_a_native_task_declares_its_limit_and_a_typo_fails_at_declaration(make_app):
    app = make_app()
    task = app.task("limited", lambda n: n, rate_limit={"limit": 5, "per": "1s"})
    assert task.options.rate_limit == RateLimit(5, 1)
    with pytest.raises(ConfigurationError, match="rate_limit"):
        app.task("typo", lambda n: n, rate_limit="5/fortnight")


def _claimed_ids(app, task, clock) -> list[str]:
    """Claim until the limiter (or an empty queue) says no; returns the ids claimed now."""
    ids = []
    while (job := app.adapter.claim(task.name, uuid.uuid4().hex, 30_000).job) is not None:
        ids.append(job.id)
    return ids


def test_the_claim_takes_turns_and_answers_when_the_next_start_is_due(make_app):
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("api-call", lambda n: n, rate_limit="5/s")
    set_rate_limit(app, task.name, task.options.rate_limit)
    for n in range(3):
        task.dispatch(n)
    assert len(_claimed_ids(app, task, clock)) == 1
    refused = app.adapter.claim(task.name, "t", 30_000)
    assert refused.job is None and refused.next_due_ms == clock.now_ms() + 200  # no job held while waiting
    clock.advance(0.199)
    assert _claimed_ids(app, task, clock) == []
    clock.advance(0.001)
    assert len(_claimed_ids(app, task, clock)) == 1
    set_rate_limit(app, task.name, None)  # lifted for everyone at once
    assert len(_claimed_ids(app, task, clock)) == 1


def test_an_unlimited_or_idle_task_claims_as_before(make_app):
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("free", lambda n: n)
    limited = app.task("idle", lambda n: n, rate_limit="1/h")
    set_rate_limit(app, limited.name, limited.options.rate_limit)
    for n in range(3):
        task.dispatch(n)
    assert len(_claimed_ids(app, task, clock)) == 3
    assert app.adapter.claim(limited.name, "t", 30_000).next_due_ms is None  # nothing waiting: nothing to wait for


def test_an_in_process_worker_with_many_slots_keeps_the_pace(make_app):
    app = make_app()
    task = app.task("paced", lambda n: n, rate_limit="10/s", concurrency=4)
    worker = Worker(app, [task])
    worker.start()
    try:
        handles = [task.dispatch(n) for n in range(6)]
        assert [h.result(timeout=10) for h in handles] == list(range(6))
    finally:
        worker.stop(5)
    starts = sorted(int(app.adapter.get_job(task.name, h.id)["processedOn"]) for h in handles)
    assert all(b - a >= 100 for a, b in zip(starts, starts[1:], strict=False)), starts


def test_a_limit_set_at_run_time_survives_workers_starting_until_the_declared_one_changes(make_app):
    app = make_app()
    task = app.task("tuned", lambda n: n, rate_limit="5/s")
    redeployed = make_app(share=True)
    new_code = redeployed.task("tuned", lambda n: n, rate_limit="10/s")

    def start_and_stop(on, tasks) -> float | None:
        worker = Worker(on, tasks)
        worker.start()  # records the declared limit
        worker.stop(5)
        return app.adapter.rate_limit_interval("tuned")

    assert start_and_stop(app, [task]) == 200
    set_rate_limit(app, task.name, "1/h")  # an operator slows it down for every worker
    assert start_and_stop(app, [task]) == 3_600_000  # a worker (or prefork child) starting keeps it
    assert start_and_stop(redeployed, [new_code]) == 100  # a deploy declaring another limit replaces it
    set_rate_limit(app, task.name, None)
    assert app.adapter.rate_limit_interval(task.name) is None


def test_a_worker_over_the_limit_waits_without_polling(redis_url):
    """Two jobs of a 1/s task: the second waits a second, in a few claims, not thousands."""
    app = Taskora(redis_url)
    task = app.task("slow-api", lambda n: n, rate_limit="1/s", concurrency=3)
    worker = Worker(app, [task])
    worker.start()
    try:
        first = task.dispatch(1)
        assert first.result(timeout=10) == 1
        calls_before = _script_calls(app)
        second = task.dispatch(2)
        assert second.result(timeout=10) == 2
        calls = _script_calls(app) - calls_before
    finally:
        worker.stop(5)
        app.close()
    started = [int(app.adapter.get_job(task.name, h.id)["processedOn"]) for h in (first, second)]
    assert started[1] - started[0] >= 1000
    print(f"script calls while the second job waited: {calls}")
    assert calls < 40, calls  # enqueue, a refused claim per idle slot, the due claim, ack, heartbeats


def _script_calls(app) -> int:
    stats = app.adapter.client.info("commandstats")
    names = ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_fcall")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in names)


class SlowAll:
    """A Celery annotation object: ``annotate_any`` answers for every task."""

    def annotate(self, task):
        return None

    def annotate_any(self):
        return {"rate_limit": "1/h"}


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, {"proj.own": RateLimit(5, 1), "proj.plain": None}),
    ({"task_default_rate_limit": "3/m"}, {"proj.own": RateLimit(5, 1), "proj.plain": RateLimit(3, 60)}),
    ({"task_annotations": {"proj.plain": {"rate_limit": "7/s"}}}, {"proj.plain": RateLimit(7, 1)}),
    ({"task_annotations": [{"proj.own": {"rate_limit": "2/s"}}, {"*": {"rate_limit": "9/s"}}]},
     {"proj.own": RateLimit(9, 1), "proj.plain": RateLimit(9, 1)}),  # Celery applies "*" last
    ({"task_annotations": SlowAll()}, {"proj.own": RateLimit(1, 3600)}),
    ({"worker_disable_rate_limits": True, "task_default_rate_limit": "3/m"}, {"proj.own": None, "proj.plain": None}),
])  # fmt: skip
def test_celery_rate_limits_come_from_the_task_annotations_and_defaults(settings, expected):
    app = Celery("proj", broker="memory://", **settings)

    @app.task(name="proj.own", rate_limit="5/s")
    def own():
        return 1

    @app.task(name="proj.plain")
    def plain():
        return 2

    try:
        native = app.__taskora_app__
        assert {name: rate_limit_of(native.tasks[name]) for name in expected} == expected
    finally:
        app.close()


def test_a_bad_celery_rate_limit_fails_naming_the_task():
    app = Celery("proj", broker="memory://")

    @app.task(name="proj.typo", rate_limit="5/fortnight")
    def typo():
        return 1

    try:
        with pytest.raises(ImproperlyConfigured, match="proj.typo: rate_limit"):
            app.__taskora_app__  # noqa: B018 - registration happens here
    finally:
        app.close()


PROJECT = '''
import os

from taskora.compat import Celery

app = Celery("rlproj", broker=os.environ["REDIS_URL"])


@app.task(rate_limit="5/s")
def call_api(n):
    return n


@app.task
def free(n):
    return n
'''


@pytest.fixture
def rl_project(tmp_path, redis_url):
    (tmp_path / "rlproj.py").write_text(textwrap.dedent(PROJECT))
    client = Celery("rlproj", broker=redis_url)
    started: list[CeleryWorker] = []

    def start(count: int) -> list[CeleryWorker]:
        for _ in range(count):
            worker = CeleryWorker(tmp_path, "rlproj", redis_url, f"rl{uuid.uuid4().hex[:6]}@test", "-P", "threads",
                                  "-c", "4")
            started.append(worker.wait_ready(client))
        return started

    yield client, start
    for worker in started:
        worker.stop()
    client.close()


def _start_spread_s(client: Celery, results) -> float:
    native = client.__taskora_app__
    starts = [int(native.adapter.get_job("rlproj.call_api", r.id)["processedOn"]) for r in results]
    return (max(starts) - min(starts)) / 1000


@pytest.mark.parametrize("workers", [1, 3])
def test_ten_calls_of_a_5_per_second_task_take_1_8_s_on_any_number_of_workers(rl_project, workers):
    client, start = rl_project
    start(workers)
    results = [client.send_task("rlproj.call_api", (n,)) for n in range(10)]
    assert sorted(r.get(timeout=30) for r in results) == list(range(10))
    spread = _start_spread_s(client, results)
    assert 1.8 <= spread < 4.0, spread
    free = [client.send_task("rlproj.free", (n,)) for n in range(10)]  # other tasks are not slowed
    assert [r.get(timeout=10) for r in free] == list(range(10))


def test_control_rate_limit_changes_the_limit_for_every_worker(rl_project):
    client, start = rl_project
    start(2)
    client.control.rate_limit("rlproj.call_api", "2/s")
    results = [client.send_task("rlproj.call_api", (n,)) for n in range(4)]
    assert sorted(r.get(timeout=30) for r in results) == list(range(4))
    assert _start_spread_s(client, results) >= 1.5
    client.control.rate_limit("rlproj.call_api", None)
    results = [client.send_task("rlproj.call_api", (n,)) for n in range(6)]
    wait_until(lambda: all(r.ready() for r in results), 10, "the unlimited calls")
    assert _start_spread_s(client, results) < 1.0
