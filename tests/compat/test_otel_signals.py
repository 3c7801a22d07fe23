# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""OpenTelemetry for the Celery front through its signals (taskora.compat.contrib.otel): one trace from
``delay()`` to the task body run by a real in-process worker, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .celery_helpers import make_celery  # noqa: F401 - fixture

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402
from taskora.compat import signals  # noqa: E402
from taskora.compat.contrib.otel import instrument  # noqa: E402


@pytest.fixture
def traced() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    uninstrument = instrument(tracer_provider=provider)
    yield provider, exporter
    uninstrument()
    provider.shutdown()


def spans_named(exporter: InMemorySpanExporter) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


@pytest.mark.usefixtures("adapter_kind")
def test_one_trace_from_delay_to_the_task_body(make_celery: Any, traced: tuple[Any, InMemorySpanExporter]) -> None:
    provider, exporter = traced
    tracer = provider.get_tracer("test")
    app = make_celery()

    @app.task
    def add(x: int, y: int) -> int:
        with tracer.start_as_current_span("inside the task"):
            return x + y

    instrument(tracer_provider=provider)  # again, e.g. in the worker's process init: no doubled spans
    app.__taskora_app__.start(concurrency=1)
    with tracer.start_as_current_span("web request"):
        result = add.delay(2, 3)
    assert result.get(timeout=10) == 5

    found = spans_named(exporter)
    name = add.name
    (request,), (publish,), (run,), (inner,) = (found["web request"], found[f"{name} publish"], found[f"{name} run"],
                                                found["inside the task"])
    assert {s.context.trace_id for s in (request, publish, run, inner)} == {request.context.trace_id}
    assert publish.parent.span_id == request.context.span_id and publish.kind == SpanKind.PRODUCER
    assert run.parent.span_id == publish.context.span_id and run.kind == SpanKind.CONSUMER
    assert inner.parent.span_id == run.context.span_id
    assert run.attributes["taskora.job_id"] == result.id and run.attributes["celery.state"] == "SUCCESS"
    assert run.attributes["taskora.outcome"] == "completed" and run.attributes["taskora.attempt"] == 1


@pytest.mark.usefixtures("adapter_kind")
def test_a_retry_and_a_failure_are_recorded(make_celery: Any, traced: tuple[Any, InMemorySpanExporter]) -> None:
    _provider, exporter = traced
    app = make_celery()

    @app.task(bind=True, max_retries=1, default_retry_delay=0)
    def flaky(self: Any) -> str:
        if self.request.retries == 0:
            raise self.retry(exc=ValueError("first run fails"))
        return "ok"

    @app.task
    def broken() -> None:
        raise KeyError("missing")

    app.__taskora_app__.start(concurrency=1)
    assert flaky.delay().get(timeout=10) == "ok"
    with pytest.raises(KeyError):
        broken.delay().get(timeout=10)

    found = spans_named(exporter)
    first, second = sorted(found[f"{flaky.name} run"], key=lambda s: s.attributes["taskora.attempt"])
    assert [first.attributes["taskora.outcome"], second.attributes["taskora.outcome"]] == ["retrying", "completed"]
    assert first.events and first.events[0].name == "exception"
    assert first.context.trace_id == second.context.trace_id  # the retry carries the headers along
    (failed,) = found[f"{broken.name} run"]
    assert failed.attributes["taskora.outcome"] == "failed" and failed.status.status_code == StatusCode.ERROR


@pytest.mark.usefixtures("adapter_kind")
def test_headers_a_publish_receiver_adds_reach_the_task(make_celery: Any) -> None:
    """As in Celery: a ``before_task_publish`` receiver's headers travel with the message."""
    app = make_celery()

    def stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
        assert headers is not None
        headers["x-tenant"] = "acme"

    signals.before_task_publish.connect(stamp)
    try:
        @app.task(bind=True)
        def tenant(self: Any) -> Any:
            return getattr(self.request, "x-tenant", None)

        app.__taskora_app__.start(concurrency=1)
        assert tenant.delay().get(timeout=10) == "acme"
    finally:
        signals.before_task_publish.disconnect(stamp)
