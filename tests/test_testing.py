"""taskora.testing.TestRunner: the real engine in memory, on a virtual clock, without threads."""

from __future__ import annotations

import pytest

from taskora import JobFailedError, Taskora
from taskora.testing import TestRunner


@pytest.fixture
def production_app() -> Taskora:
    app = Taskora("redis://127.0.0.1:1/0")  # never contacted: the runner copies its tasks

    @app.task("send-email", retry={"attempts": 3, "backoff": "exponential", "delay": "10m", "jitter": False})
    def send_email(data, ctx):
        ctx.log.info("sending", to=data["to"])
        ctx.progress(100)
        if ctx.attempt < 3:
            raise ConnectionError("smtp down")
        return {"sent_to": data["to"], "attempt": ctx.attempt}

    return app


def test_execute_jumps_over_retry_backoff_instantly(production_app: Taskora) -> None:
    runner = TestRunner.from_app(production_app)
    started = runner.clock.now_ms()

    outcome = runner.execute("send-email", {"to": "a@b.c"})

    assert outcome.state == "completed"
    assert outcome.result == {"sent_to": "a@b.c", "attempt": 3}
    assert outcome.attempts == 3
    assert outcome.progress == 100
    assert [e["message"] for e in outcome.logs] == ["sending"] * 3
    assert runner.clock.now_ms() - started == (10 + 20) * 60_000  # 10 min, then 20 min of backoff


def test_delayed_jobs_wait_for_advance_time() -> None:
    runner = TestRunner()
    seen: list[int] = []
    task = runner.task("record", lambda n: seen.append(n))
    task.dispatch(1, delay="1h")
    task.dispatch(2)

    assert runner.process_all() == 1 and seen == [2]
    assert runner.advance_time("59m") == 0
    assert runner.advance_time("1m") == 1 and seen == [2, 1]


def test_jobs_dispatched_by_handlers_are_processed_too() -> None:
    runner = TestRunner()
    square = runner.task("square", lambda n: n * n)
    fan_out = runner.task("fan-out", lambda n: [square.dispatch(i).id for i in range(n)])

    outcome = runner.execute(fan_out, 4)

    results = [runner.app.handle("square", job_id).result(timeout=0) for job_id in outcome.result]
    assert results == [0, 1, 4, 9]
    assert [j["state"] for j in runner.jobs(square)] == ["completed"] * 4


def test_run_raises_the_job_error() -> None:
    runner = TestRunner()
    runner.task("broken", lambda data: 1 / 0)

    with pytest.raises(JobFailedError, match="ZeroDivisionError"):
        runner.run("broken", None)


def test_clear_forgets_jobs_but_keeps_tasks() -> None:
    runner = TestRunner()
    runner.task("t", lambda d: d).dispatch(1)
    runner.clear()

    assert runner.jobs() == [] and "t" in runner.app.tasks
