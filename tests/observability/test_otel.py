"""OpenTelemetryMiddleware: one trace from the dispatching code, through the job's meta, to the handler run by
a real (in-process) worker, on both engines; spans collected by the SDK's InMemorySpanExporter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from taskora import Taskora
from taskora.errors import JobFailedError

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from taskora.otel import OpenTelemetryMiddleware  # noqa: E402


@pytest.fixture
def spans() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def test_one_trace_from_dispatch_to_handler(app: Taskora, spans: tuple[Any, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    tracer = provider.get_tracer("test")
    app.use(OpenTelemetryMiddleware(tracer_provider=provider))

    def handler(data: int) -> int:
        with tracer.start_as_current_span("inside the handler"):
            return data * 2

    double = app.task("double", handler)
    app.start()
    with tracer.start_as_current_span("web request"):
        handle = double.dispatch(21)
    assert handle.result(timeout=10) == 42

    found = by_name(exporter)
    (request,), (publish,), (process,), (inner,) = (found["web request"], found["double publish"],
                                                    found["double process"], found["inside the handler"])
    assert {s.context.trace_id for s in (request, publish, process, inner)} == {request.context.trace_id}
    assert publish.parent.span_id == request.context.span_id and publish.kind == SpanKind.PRODUCER
    assert process.parent.span_id == publish.context.span_id and process.kind == SpanKind.CONSUMER
    assert inner.parent.span_id == process.context.span_id
    assert publish.attributes["taskora.job_id"] == process.attributes["taskora.job_id"] == handle.id
    assert process.attributes["taskora.task"] == "double" and process.attributes["messaging.system"] == "taskora"
    assert process.attributes["taskora.attempt"] == 1 and process.attributes["taskora.outcome"] == "completed"
    stored = app.adapter.get_job("double", handle.id)
    assert stored["otel.traceparent"].split("-")[1] == format(request.context.trace_id, "032x")


def test_a_failed_attempt_and_its_retry_share_the_trace(app: Taskora, spans: tuple[Any, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    app.use(OpenTelemetryMiddleware(tracer_provider=provider))

    def flaky(data: Any, ctx: Any) -> str:
        if ctx.attempt == 1:
            raise ValueError("first attempt fails")
        return "ok"

    def broken(data: Any) -> None:
        raise KeyError("missing")

    task = app.task("flaky", flaky, retry={"attempts": 2, "delay": 0})
    bad = app.task("broken", broken)
    app.start()
    assert task.dispatch(None).result(timeout=10) == "ok"
    with pytest.raises(JobFailedError):
        bad.dispatch(None).result(timeout=10)

    found = by_name(exporter)
    (publish,) = found["flaky publish"]
    first, second = sorted(found["flaky process"], key=lambda s: s.attributes["taskora.attempt"])
    assert [first.attributes["taskora.outcome"], second.attributes["taskora.outcome"]] == ["retrying", "completed"]
    assert first.parent.span_id == second.parent.span_id == publish.context.span_id
    assert first.status.status_code == StatusCode.ERROR and first.events[0].name == "exception"
    (failed,) = found["broken process"]
    assert failed.attributes["taskora.outcome"] == "failed" and failed.status.status_code == StatusCode.ERROR


def test_a_workflow_step_continues_the_trace_of_the_step_before(app: Taskora,
                                                                spans: tuple[Any, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    app.use(OpenTelemetryMiddleware(tracer_provider=provider))
    add = app.task("add1", lambda n: n + 1)
    app.start()
    from taskora.workflow import chain

    assert chain(add.s(1), add.s()).dispatch().result(timeout=10) == 3

    found = by_name(exporter)
    first, second = sorted(found["add1 process"], key=lambda s: s.start_time)
    first_publish, second_publish = sorted(found["add1 publish"], key=lambda s: s.start_time)
    assert len({s.context.trace_id for s in (first, second, first_publish, second_publish)}) == 1
    assert first.parent.span_id == first_publish.context.span_id
    assert second_publish.parent.span_id == first.context.span_id  # enqueued as step 1 completed
    assert second.parent.span_id == second_publish.context.span_id


def test_without_a_tracer_in_the_context_dispatch_starts_a_new_trace(app: Taskora,
                                                                     spans: tuple[Any, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    app.use(OpenTelemetryMiddleware(tracer_provider=provider))
    echo = app.task("echo", lambda data: data)
    app.start()
    assert trace.get_current_span() is trace.INVALID_SPAN
    assert echo.dispatch("x").result(timeout=10) == "x"
    found = by_name(exporter)
    assert found["echo publish"][0].parent is None
    assert found["echo process"][0].parent.span_id == found["echo publish"][0].context.span_id


def test_without_the_extra_the_middleware_names_it() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['opentelemetry.trace'] = None\n"
            "from taskora.extras import MissingExtraError\nfrom taskora.otel import OpenTelemetryMiddleware\n"
            "try:\n    OpenTelemetryMiddleware()\nexcept MissingExtraError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "pip install 'taskora[otel]'" in done.stdout
