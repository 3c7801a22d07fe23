"""A native project whose handlers record when they ran (``-A tests.cli.proj_budget``), for the running-budget
tests: each run writes ``run-<tag>-<uuid>.json`` (task, pid, start, end) under ``TASKORA_TEST_DIR`` as it ends."""

from __future__ import annotations

import os

from taskora import Taskora

from .budget_records import record

app = Taskora(os.environ.get("TASKORA_TEST_URL", "redis://127.0.0.1:1/0"), name="proj_budget")


@app.task("first")
def first(data: dict[str, object]) -> int:
    return record("first", data)


@app.task("second")
def second(data: dict[str, object]) -> int:
    return record("second", data)
