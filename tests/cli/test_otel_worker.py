"""OpenTelemetry across processes: a producer's span, the dispatch, and the handler run by a real
``taskora worker`` subprocess form one trace. The worker exports with the SDK's InMemorySpanExporter and
writes what it exported to a file (tests/cli/proj_otel.py), which the test reads back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskora import Taskora

from .helpers import ROOT, env_for, wait_until

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

from taskora.otel import OpenTelemetryMiddleware  # noqa: E402
from taskora.worker.control import broadcast  # noqa: E402

from ..processes import kill_process_group  # noqa: E402


@pytest.fixture
def otel_worker(redis_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[Any]]:
    """``taskora worker -A tests.cli.proj_otel -P <pool>`` in its own session, killed by pid at the end."""
    with open(tmp_path / "worker.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "tests.cli.proj_otel",
                                 "-n", "otel@test", "-P", request.param, "-c", "1", "-l", "info"],
                                cwd=ROOT, env=env_for(redis_url, tmp_path), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        yield proc
        kill_process_group(proc)


def exported_by_worker(directory: Path) -> list[dict[str, Any]]:
    return [span for path in sorted(directory.glob("spans-*.json")) for span in json.loads(path.read_text())]


@pytest.mark.parametrize("otel_worker", ["threads", "prefork"], indirect=True)
def test_one_trace_from_a_producer_span_to_the_handler_in_a_worker_process(
        redis_url: str, tmp_path: Path, otel_worker: subprocess.Popen[Any]) -> None:  # fmt: skip
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    producer = Taskora(redis_url)
    producer.use(OpenTelemetryMiddleware(tracer_provider=provider))
    double = producer.register_task("otel_double", None)
    wait_until(lambda: otel_worker.poll() is None and "otel@test" in broadcast(producer, "ping", timeout=0.3),
               20, "the worker to answer ping")

    with provider.get_tracer("test").start_as_current_span("web request") as request:
        handle = double.dispatch(21)
    assert handle.result(timeout=20) == 42

    def worker_spans() -> dict[str, dict[str, Any]]:
        return {span["name"]: span for span in exported_by_worker(tmp_path)}

    wait_until(lambda: {"otel_double process", "inside the handler"} <= set(worker_spans()), 10,
               "the worker to export its spans")
    process, inner = worker_spans()["otel_double process"], worker_spans()["inside the handler"]
    (publish,) = [span for span in exporter.get_finished_spans() if span.name == "otel_double publish"]
    trace_id = format(request.get_span_context().trace_id, "032x")
    assert process["trace_id"] == inner["trace_id"] == trace_id
    assert publish.parent.span_id == request.get_span_context().span_id and publish.kind == SpanKind.PRODUCER
    assert process["parent_id"] == format(publish.context.span_id, "016x") and process["kind"] == "CONSUMER"
    assert inner["parent_id"] == process["span_id"]
    assert process["attributes"]["taskora.job_id"] == handle.id and process["attributes"]["taskora.attempt"] == 1
    assert process["attributes"]["taskora.outcome"] == "completed"
    assert process["pid"] != os.getpid() and inner["pid"] == process["pid"]
    producer.close()
    provider.shutdown()
