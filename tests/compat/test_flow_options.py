# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""taskora's flow control through Celery's ``apply_async`` (docs/guide/flow-control.md#from-celery): the
options pass to the native dispatch as given, and a deduplicated call answers with the live job."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from taskora import ConfigurationError, DuplicateJobError, ThrottledError

from .celery_helpers import make_celery  # noqa: F401 - fixture


def test_apply_async_deduplicates_while_the_job_runs_then_accepts_a_new_one(make_celery):
    app = make_celery()
    started, release = threading.Event(), threading.Event()

    @app.task
    def build_report(user_id):
        started.set()
        release.wait(10)
        return f"report {user_id}"

    app.__taskora_app__.start(concurrency=1)
    first = build_report.apply_async((7,), deduplicate={"key": "report:7"})
    assert started.wait(10)
    again = build_report.apply_async((7,), deduplicate={"key": "report:7"})
    assert again.id == first.id  # the caller gets the running job's result
    with pytest.raises(DuplicateJobError):
        build_report.apply_async((7,), deduplicate={"key": "report:7"}, throw_on_reject=True)
    release.set()
    assert again.get(timeout=10) == "report 7"
    after = build_report.apply_async((7,), deduplicate={"key": "report:7"})
    assert after.id != first.id and after.get(timeout=10) == "report 7"


def test_apply_async_throttles_and_refuses_debounce_with_a_countdown(make_celery):
    app = make_celery()

    @app.task
    def ping():
        return "pong"

    limit = {"key": "pings", "max": 2, "window": "1m"}
    ids = [ping.apply_async(throttle=limit).id for _ in range(2)]
    assert len(set(ids)) == 2
    with pytest.raises(ThrottledError):
        ping.apply_async(throttle=limit, throw_on_reject=True)
    with pytest.raises(ConfigurationError, match="debounce and delay are mutually exclusive"):
        ping.apply_async(countdown=5, debounce={"key": "k", "delay": "2s"})


RECIPE = Path(__file__).resolve().parents[2] / "migration_guide" / "celery-once.md"


def test_the_celery_once_recipe_refuses_duplicates_and_accepts_again_after_the_job_ends():
    """The migration guide's QueueOnce (migration_guide/celery-once.md), run as written, then a worker:
    once the first report is done, the same call is accepted again."""
    source = re.search(r"^```python\n(.*?)^```$", RECIPE.read_text(), re.MULTILINE | re.DOTALL).group(1)
    namespace: dict = {"__name__": "recipe"}
    exec(compile(source, str(RECIPE), "exec"), namespace)  # the asserts inside check the refusal
    app, build_report, first = namespace["app"], namespace["build_report"], namespace["first"]
    try:
        app.__taskora_app__.start(concurrency=1)
        assert first.get(timeout=10) == "report for 7 as pdf"
        assert build_report.delay(7, fmt="csv").get(timeout=10) == "report for 7 as csv"
    finally:
        app.close()
