"""OpenTelemetry across a workflow's steps in a worker subprocess: the next step's publish span is a child of the
step before's process span, and its process span a child of that publish, one trace, whichever thread of a
prefork child ran the handler. A budget-1 prefork child (``--max-running 1``) may run a handler on its main
thread while the slot thread dispatches the next step as the step completes; a task with a soft time limit
always runs there (the signal-based limit needs it). The threads pool, where one thread does both, is the
reference. Spans are exported in the worker by tests/observability/proj_otel_steps.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskora import Taskora

from ..cli.helpers import ROOT, env_for
from ..waiting import wait_until

pytest.importorskip("opentelemetry.sdk.trace")

from taskora.worker.control import broadcast  # noqa: E402

from ..processes import kill_process_group

POOLS = {"threads": ("-P", "threads", "-c", "1"),
         "prefork-budget-1": ("-P", "prefork", "-c", "1", "--max-running", "1")}


@pytest.fixture
def steps_worker(redis_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[Any]]:
    """``taskora worker -A tests.observability.proj_otel_steps`` with the pool ``POOLS[param]``, killed by pid."""
    with open(tmp_path / "worker.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "tests.observability.proj_otel_steps",
                                 "-n", "steps@test", "-l", "info", *POOLS[request.param]],
                                cwd=ROOT, env=env_for(redis_url, tmp_path), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        yield proc
        kill_process_group(proc)


def exported(directory: Path) -> list[dict[str, Any]]:
    return [span for path in sorted(directory.glob("steps-*.json")) for span in json.loads(path.read_text())]


@pytest.mark.parametrize("task_name", ["otel_step", "otel_limited_step"])
@pytest.mark.parametrize("steps_worker", list(POOLS), indirect=True)
def test_the_next_step_continues_the_trace_of_the_step_before(
        redis_url: str, tmp_path: Path, steps_worker: subprocess.Popen[Any], task_name: str,
        request: pytest.FixtureRequest) -> None:  # fmt: skip
    from taskora.workflow import chain

    producer = Taskora(redis_url)
    try:
        step = producer.register_task(task_name, None)
        wait_until(lambda: steps_worker.poll() is None and "steps@test" in broadcast(producer, "ping", timeout=0.3),
                   20, "the worker to answer ping")
        last = chain(step.s(1), step.s()).dispatch().result(timeout=20)
    finally:
        producer.close()
    assert last["n"] == 3
    if task_name == "otel_limited_step" and "prefork" in request.node.callspec.params["steps_worker"]:
        assert last["main"], "a soft-limited task of a budget-1 child runs on the child's main thread"

    def spans(kind: str) -> list[dict[str, Any]]:
        return sorted((s for s in exported(tmp_path) if s["name"] == f"{task_name} {kind}"), key=lambda s: s["start"])

    wait_until(lambda: len(spans("process")) == 2 and len(spans("publish")) == 1, 10, "the worker's spans")
    (first, second), (publish,) = spans("process"), spans("publish")
    assert publish["parent_id"] == first["span_id"], "the next step is published within the trace of the step before"
    assert second["parent_id"] == publish["span_id"] and publish["kind"] == "PRODUCER"
    assert first["trace_id"] == publish["trace_id"] == second["trace_id"]
