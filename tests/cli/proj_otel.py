"""A project traced with OpenTelemetry, for a ``taskora worker -A tests.cli.proj_otel`` subprocess.

Its spans go to the SDK's InMemorySpanExporter in the worker process; after every span ends, the finished
spans are written whole (aside, then renamed) to ``$TASKORA_TEST_DIR/spans-<pid>.json`` so the test can read
what the worker exported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from taskora import Taskora
from taskora.otel import OpenTelemetryMiddleware

exporter = InMemorySpanExporter()


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """What a test asserts on: ids as hex, the parent, the kind, the attributes, and the process."""
    context, parent = span.get_span_context(), span.parent
    return {"name": span.name, "trace_id": format(context.trace_id, "032x"),
            "span_id": format(context.span_id, "016x"),
            "parent_id": format(parent.span_id, "016x") if parent is not None else None,
            "kind": span.kind.name, "attributes": dict(span.attributes or {}), "pid": os.getpid()}


class WriteExported(SpanProcessor):
    """Dump the exporter's finished spans to a file after each span ends (runs after SimpleSpanProcessor)."""

    def on_end(self, span: ReadableSpan) -> None:
        directory = os.environ["TASKORA_TEST_DIR"]
        target = Path(directory, f"spans-{os.getpid()}.json")
        aside = target.with_name("." + target.name)
        aside.write_text(json.dumps([span_record(s) for s in exporter.get_finished_spans()]))
        aside.replace(target)


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
provider.add_span_processor(WriteExported())
tracer = provider.get_tracer("proj_otel")

app = Taskora(os.environ.get("TASKORA_TEST_URL", "redis://127.0.0.1:1/0"), name="proj_otel")
app.use(OpenTelemetryMiddleware(tracer_provider=provider))


@app.task("otel_double")
def otel_double(data: int) -> int:
    with tracer.start_as_current_span("inside the handler"):
        return data * 2
