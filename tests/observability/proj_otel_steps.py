"""A traced project whose workflows run in a ``taskora worker -A tests.observability.proj_otel_steps`` subprocess.

Two one-step-after-another tasks: ``otel_step`` (no time limit: a budget-1 prefork child may run it on the slot
thread or on its main thread) and ``otel_limited_step`` (a soft time limit: such a child runs it on its main
thread, where the signal-based limit can interrupt it). Spans go to the SDK's InMemorySpanExporter in the worker
process and are written whole after each span ends to ``$TASKORA_TEST_DIR/steps-<pid>.json``.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from taskora import Taskora
from taskora.otel import OpenTelemetryMiddleware

exporter = InMemorySpanExporter()


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """What the test asserts on: ids as hex, the parent, the kind, the attributes."""
    context, parent = span.get_span_context(), span.parent
    return {"name": span.name, "trace_id": format(context.trace_id, "032x"),
            "span_id": format(context.span_id, "016x"),
            "parent_id": format(parent.span_id, "016x") if parent is not None else None,
            "kind": span.kind.name, "attributes": dict(span.attributes or {}), "start": span.start_time}


class WriteExported(SpanProcessor):
    """Dump the exporter's finished spans to a file after each span ends (runs after SimpleSpanProcessor)."""

    def on_end(self, span: ReadableSpan) -> None:
        target = Path(os.environ["TASKORA_TEST_DIR"], f"steps-{os.getpid()}.json")
        aside = target.with_name(f".{target.name}")
        aside.write_text(json.dumps([span_record(s) for s in exporter.get_finished_spans()]))
        aside.replace(target)


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
provider.add_span_processor(WriteExported())

app = Taskora(os.environ.get("TASKORA_TEST_URL", "redis://127.0.0.1:1/0"), name="proj_otel_steps")
app.use(OpenTelemetryMiddleware(tracer_provider=provider))


def _step(data: Any) -> dict[str, Any]:
    """The next number (``data``: the first step's number, or the step before's result), and whether the
    handler ran on the process's main thread."""
    n = data["n"] if isinstance(data, dict) else data
    return {"n": n + 1, "main": threading.current_thread() is threading.main_thread()}


otel_step = app.task("otel_step", _step)
otel_limited_step = app.register_task("otel_limited_step", _step, allowed_extra=("soft_time_limit",),
                                      soft_time_limit=30)
