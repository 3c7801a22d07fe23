"""Background dispatch (taskora/background.py): the call returns before Redis has the job, and still none is lost
while the process lives, nor at a normal exit."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import redis

from taskora import Taskora
from taskora.background import BackgroundSender
from taskora.errors import TimeoutError
from taskora.redis import redis_adapter
from tests.paths import ROOT


def test_the_flush_writes_every_job_dispatched_in_the_background(make_app) -> None:
    app = make_app(background_dispatch=True)
    echo = app.task("echo", lambda data: data)

    handles = [echo.dispatch(i) for i in range(500)]
    app.flush(timeout=10)

    assert app.adapter.counts("echo")["waiting"] == 500
    assert all(h.enqueued is True for h in handles)


def test_a_background_handle_waits_for_its_send_before_it_reads_or_waits(make_app) -> None:
    app = make_app(background_dispatch=True)
    square = app.task("square", lambda n: n * n)
    handles = [square.dispatch(n) for n in range(50)]

    assert handles[-1].state() == "waiting"  # read after its send: never "no such job"
    app.start()
    assert [h.result(timeout=10) for h in handles] == [n * n for n in range(50)]


def test_a_background_dispatch_of_an_existing_id_settles_as_not_enqueued(make_app) -> None:
    app = make_app(background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    first = echo.dispatch(1)

    again = echo.dispatch(2, job_id=first.id)

    assert again.ensure_enqueued(timeout=10) is False
    assert again.existing_id == first.id and first.enqueued is True
    assert app.adapter.counts("echo")["waiting"] == 1


def test_dispatches_wait_in_a_process_that_runs_jobs(make_app) -> None:
    app = make_app(background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    app.start()

    handle = echo.dispatch(1)

    assert handle.enqueued is True and app.background_sender() is None


def test_a_dispatch_under_flow_control_is_decided_at_once(make_app) -> None:
    app = make_app(background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    limit = {"key": "k", "max": 1, "window": "1m"}

    admitted, throttled = (echo.dispatch(i, throttle=limit) for i in range(2))

    assert admitted.enqueued is True and throttled.enqueued is False


# -- Redis only: what the sender does when Redis is slow, gone or refusing ------------------------------------
@pytest.fixture
def paused(redis_url: str) -> Iterator[redis.Redis]:
    """A client that pauses Redis's writes (``CLIENT PAUSE ... WRITE``); unpaused after the test whatever happens."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.execute_command("CLIENT", "UNPAUSE")
    client.close()


def test_enqueued_is_none_until_redis_has_the_job(redis_url: str, paused: redis.Redis) -> None:
    app = Taskora(redis_url, background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    echo.dispatch(0).ensure_enqueued(timeout=10)  # the connection and scripts are ready before the pause
    paused.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")

    handle = echo.dispatch(1)

    assert handle.enqueued is None
    with pytest.raises(TimeoutError, match="did not reach Redis within 0.2s"):
        handle.ensure_enqueued(timeout=0.2)
    paused.execute_command("CLIENT", "UNPAUSE")
    assert handle.ensure_enqueued(timeout=10) is True
    app.close()


def test_a_dispatch_waits_while_max_queued_jobs_are_unsent(redis_url: str, paused: redis.Redis) -> None:
    app = Taskora(redis_url)
    echo = app.task("echo", lambda data: data)
    echo.dispatch(0)  # connection and scripts ready before the pause
    sender = BackgroundSender(app.adapter, max_queued=3)
    paused.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
    requests = [echo.build_request(i, {}) for i in range(10)]

    def submit_all() -> None:
        for request in requests:
            sender.submit(request, lambda seq, r=request: app.handle("echo", r.id))

    producer = threading.Thread(target=submit_all)
    producer.start()
    producer.join(0.5)
    assert producer.is_alive()  # at most 3 queued and 3 in flight: the rest wait for room
    paused.execute_command("CLIENT", "UNPAUSE")
    producer.join(10)
    sender.close(timeout=10)
    assert app.adapter.counts("echo")["waiting"] == 11
    app.close()


def test_jobs_sent_while_connections_are_killed_arrive_exactly_once(redis_url: str) -> None:
    app = Taskora(redis_url, background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    killer = redis.Redis.from_url(redis_url)

    handles = []
    for chunk in range(10):
        handles += [echo.dispatch(chunk * 300 + i) for i in range(300)]
        killer.client_kill_filter(_type="normal", skipme=True)  # mid-send, or between sends
    app.flush(timeout=30)

    waiting = killer.lrange(app.adapter.keys.queue("echo")[0], 0, -1)
    assert len(waiting) == len(set(waiting)) == 3000
    assert all(h.enqueued is True for h in handles)
    app.close()


def test_an_error_redis_returns_is_on_each_handle_and_in_the_log(redis_url: str, caplog) -> None:
    app = Taskora(redis_url, background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    echo.dispatch(0).ensure_enqueued(timeout=10)
    admin = redis.Redis.from_url(redis_url)
    admin.config_set("maxmemory", 1)  # every write refused: OOM
    try:
        with caplog.at_level(logging.ERROR, logger="taskora.dispatch"):
            handle = echo.dispatch(1)
            with pytest.raises(redis.ResponseError, match="OOM"):
                handle.ensure_enqueued(timeout=10)
    finally:
        admin.config_set("maxmemory", 0)
    assert handle.enqueued is None
    assert "1 jobs were not enqueued" in caplog.text and handle.id in caplog.text
    with pytest.raises(redis.ResponseError, match="OOM"):
        handle.state()  # every read of the job says why it is not there
    app.close()


EXITING_PRODUCER = """
import sys
from taskora import Taskora
app = Taskora(sys.argv[1], background_dispatch=True)
echo = app.task("echo", lambda data: data)
for i in range(2000):
    echo.dispatch(i)
"""


def test_a_process_that_exits_without_a_flush_has_written_every_job(redis_url: str) -> None:
    subprocess.run([sys.executable, "-c", EXITING_PRODUCER, redis_url], cwd=ROOT, check=True, timeout=60)

    app = Taskora(redis_url)
    app.task("echo", lambda data: data)
    assert app.adapter.counts("echo")["waiting"] == 2000
    app.close()


def test_a_forked_child_sends_its_own_jobs_and_leaves_its_parents_to_the_parent(redis_url: str) -> None:
    app = Taskora(redis_url, background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    echo.dispatch(0).ensure_enqueued(timeout=10)  # the sender thread runs

    pid = os.fork()
    if pid == 0:  # the child: a new sender thread writes its job
        status = 0 if echo.dispatch(1).ensure_enqueued(timeout=10) is True else 1
        os._exit(status)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert echo.dispatch(2).ensure_enqueued(timeout=10) is True  # the parent's sender still runs
    assert app.adapter.counts("echo")["waiting"] == 3
    app.close()


def test_a_closed_app_dispatches_again_in_the_background(redis_url: str) -> None:
    app = Taskora(redis_adapter(redis_url), background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    echo.dispatch(0)
    app.close()

    assert echo.dispatch(1).ensure_enqueued(timeout=10) is True
    app.close()


def test_a_test_runner_wrapping_a_background_app_dispatches_and_runs_at_once() -> None:
    from taskora.testing import TestRunner

    app = Taskora(background_dispatch=True)
    double = app.task("double", lambda n: n * 2)
    runner = TestRunner.from_app(app)

    handle = runner.dispatch(double, 21)

    assert handle.enqueued is True
    assert runner.process_all() == 1 and handle.result(timeout=5) == 42
    runner.dispose()
    assert app.background_sender() is not None  # the app dispatches in the background again
    app.close()


def test_a_rebound_app_writes_its_queued_jobs_to_the_engine_they_were_dispatched_on(redis_url: str) -> None:
    from taskora.memory import memory_adapter

    app = Taskora(redis_url, background_dispatch=True)
    echo = app.task("echo", lambda data: data)
    handles = [echo.dispatch(i) for i in range(100)]
    on_redis = app.rebind(memory_adapter())

    assert all(h.enqueued is True for h in handles)
    assert on_redis.counts("echo")["waiting"] == 100 and app.adapter.counts("echo")["waiting"] == 0
    echo.dispatch(100).ensure_enqueued(timeout=10)
    assert app.adapter.counts("echo")["waiting"] == 1
    app.close()
    on_redis.close()


def test_dispatches_wait_in_a_process_that_runs_the_scheduler(make_app) -> None:
    from taskora.scheduler.runner import SchedulerRunner

    app = make_app(background_dispatch=True)
    assert app.background_sender() is not None

    SchedulerRunner(app)

    assert app.background_sender() is None  # a run recorded as fired is in Redis
