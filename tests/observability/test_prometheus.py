"""``taskora.prometheus.render(app)``: gauges read from the engine on each scrape, counters and durations
tallied from the event streams since the first scrape; on both engines, parsed with prometheus_client."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from taskora import Taskora
from taskora.clock import VirtualClock
from taskora.prometheus import registry_for, render
from tests.waiting import wait_until

parser = pytest.importorskip("prometheus_client.parser")


def scrape(app: Taskora) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parser.text_string_to_metric_families(render(app).decode()) for s in family.samples}


def sample(app: Taskora, name: str, **labels: str) -> float | None:
    return scrape(app).get((name, tuple(sorted(labels.items()))))


def test_waiting_jobs_show_as_depth_and_oldest_age(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("queued", lambda data: data)
    task.dispatch(1, priority=5)
    clock.advance(2)
    task.dispatch(2)
    clock.advance(5)
    task.dispatch(3, priority=1)
    task.dispatch(4, delay=60)

    assert sample(app, "taskora_queue_depth", task="queued") == 3
    assert sample(app, "taskora_jobs", task="queued", state="waiting") == 3
    assert sample(app, "taskora_jobs", task="queued", state="delayed") == 1
    assert sample(app, "taskora_queue_oldest_waiting_age_seconds", task="queued") == 7.0  # the priority-5 job


def test_the_oldest_age_follows_the_fifo_list(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("fifo", lambda data: data)
    assert sample(app, "taskora_queue_oldest_waiting_age_seconds", task="fifo") == 0.0
    task.dispatch(1)
    clock.advance(3)
    task.dispatch(2)
    clock.advance(1.5)
    assert sample(app, "taskora_queue_oldest_waiting_age_seconds", task="fifo") == 4.5


def test_counters_start_at_the_first_scrape_and_count_what_follows(app: Taskora) -> None:
    attempts: list[int] = []

    def flaky(data: Any, ctx: Any) -> str:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ValueError("first attempt fails")
        return "ok"

    echo = app.task("echo", lambda data: data)
    retried = app.task("flaky", flaky, retry={"attempts": 2, "delay": 0})
    app.start()
    assert echo.dispatch("before").result(timeout=10) == "before"  # before the first scrape: not counted
    assert sample(app, "taskora_jobs_completed_total", task="echo") == 0

    assert [echo.dispatch(i).result(timeout=10) for i in range(4)] == [0, 1, 2, 3]
    assert retried.dispatch(None).result(timeout=10) == "ok"

    now = scrape(app)
    assert now[("taskora_jobs_completed_total", (("task", "echo"),))] == 4
    assert now[("taskora_job_retries_total", (("task", "flaky"),))] == 1
    assert now[("taskora_jobs_completed_total", (("task", "flaky"),))] == 1
    assert now[("taskora_jobs_failed_total", (("task", "flaky"),))] == 0
    assert now[("taskora_job_duration_seconds_count", (("outcome", "completed"), ("task", "echo")))] == 4
    assert now[("taskora_jobs", (("state", "completed"), ("task", "echo")))] == 5  # the gauge sees them all


def test_a_stalled_job_is_counted(app: Taskora) -> None:
    app.task("fragile", lambda data: data)
    app.tasks["fragile"].dispatch(None)
    assert sample(app, "taskora_job_stalls_total", task="fragile") == 0
    claimed = app.adapter.claim("fragile", "dead-worker", 1)  # a worker that dies holding a 1 ms lock
    assert claimed.job is not None
    app.adapter.stall_sweep("fragile", 1)  # notes the job active
    wait_until(lambda: not app.adapter.locks_of_active("fragile"), what="the dead worker's lock to lapse")
    recovered, _failed = app.adapter.stall_sweep("fragile", 1)
    assert recovered == [claimed.job.id]

    assert sample(app, "taskora_job_stalls_total", task="fragile") == 1


def test_one_registry_per_app(app: Taskora) -> None:
    assert registry_for(app) is registry_for(app)


def test_importing_taskora_loads_no_metrics_library() -> None:
    code = ("import sys, taskora, taskora.prometheus, taskora.cli.metrics; "
            "print(sorted(m for m in sys.modules if m.startswith('prometheus_client')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_render_without_the_extra_names_it() -> None:
    code = ("import sys; sys.modules['prometheus_client'] = None\n"
            "from taskora import Taskora\nfrom taskora.memory import memory_adapter\n"
            "from taskora.prometheus import render\nfrom taskora.extras import MissingExtraError\n"
            "try:\n    render(Taskora(memory_adapter()))\nexcept MissingExtraError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "pip install 'taskora[prometheus]'" in done.stdout
