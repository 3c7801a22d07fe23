"""SentryMiddleware: the dispatcher's Sentry trace reaches the worker's span through the job's meta, and a job that
fails for good is captured once with its task, id and attempt; a real in-process worker, both engines. Runs with the
installed sentry-sdk, 2.x (a transaction per job) or 3.x (streamed spans); CI runs it under both (.ci/run)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from taskora import Taskora
from taskora.errors import JobFailedError

sentry_sdk = pytest.importorskip("sentry_sdk")
from sentry_sdk.transport import Transport  # noqa: E402

from taskora.sentry import SentryMiddleware  # noqa: E402

STREAMS_SPANS = not hasattr(sentry_sdk, "start_transaction")  # sentry-sdk 3.x


class Captured(Transport):
    """Keeps what the SDK would send: error events, and each top-level span (2.x: a transaction) as
    {name, trace_id, op, status, tags}, the same whichever SDK sent it."""

    events: list[dict[str, Any]] = []
    spans: list[dict[str, Any]] = []
    lock = threading.Lock()

    def capture_envelope(self, envelope: Any) -> None:
        with self.lock:
            for item in envelope.items:
                if item.type == "event":
                    self.events.append(item.payload.json)
                elif item.type == "transaction":
                    self.spans.append(_from_transaction(item.payload.json))
                elif item.type == "span":
                    self.spans.extend(_from_span(span) for span in item.payload.json["items"])


def _from_transaction(event: dict[str, Any]) -> dict[str, Any]:
    trace = event["contexts"]["trace"]
    return {"name": event["transaction"], "trace_id": trace["trace_id"], "op": trace["op"],
            "status": trace.get("status"), "tags": event.get("tags", {})}


def _from_span(span: dict[str, Any]) -> dict[str, Any]:
    attributes = {name: held["value"] for name, held in span.get("attributes", {}).items()}
    return {"name": span["name"], "trace_id": span["trace_id"], "op": attributes.get("sentry.op"),
            "status": span["status"], "tags": {k: v for k, v in attributes.items() if k.startswith("taskora.")}}


def request_span() -> Any:
    """A caller's own top-level span, as a web framework's integration would start it."""
    if STREAMS_SPANS:
        return sentry_sdk.start_span(name="web request", attributes={"sentry.op": "http.server"})
    return sentry_sdk.start_transaction(name="web request", op="http.server")


@pytest.fixture
def sentry() -> Iterator[type[Captured]]:
    Captured.events, Captured.spans = [], []
    sentry_sdk.init(dsn="http://public@127.0.0.1:1/1", transport=Captured, traces_sample_rate=1.0,
                    default_integrations=False, auto_enabling_integrations=False)
    yield Captured
    sentry_sdk.get_client().close()
    # A client without a DSN, and without the default integrations: those patch logging, threading and the
    # standard library for the rest of the process (its logging one kept a later test's failed task's locals alive).
    sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)


def test_the_workers_span_joins_the_dispatchers_trace(app: Taskora, sentry: type[Captured]) -> None:
    app.use(SentryMiddleware())
    echo = app.task("echo", lambda data: data)
    app.start()
    with request_span() as request:
        handle = echo.dispatch("hi")
    assert handle.result(timeout=10) == "hi"
    sentry_sdk.flush()

    (job,) = [span for span in sentry.spans if span["name"] == "echo"]
    assert job["trace_id"] == request.trace_id
    assert job["op"] == "queue.task.taskora" and job["status"] == "ok"
    assert job["tags"]["taskora.job_id"] == handle.id


def test_a_final_failure_is_captured_once_a_retried_attempt_is_not(app: Taskora, sentry: type[Captured]) -> None:
    app.use(SentryMiddleware())

    def always_fails(data: Any) -> None:
        raise ValueError("boom")

    task = app.task("doomed", always_fails, retry={"attempts": 2, "delay": 0})
    app.start()
    handle = task.dispatch(None)
    with pytest.raises(JobFailedError):
        handle.result(timeout=10)
    sentry_sdk.flush()

    (error,) = sentry.events
    assert error["exception"]["values"][-1]["type"] == "ValueError"
    assert error["tags"] == {"taskora.task": "doomed", "taskora.job_id": handle.id, "taskora.attempt": "2"}
    outcomes = sorted(span["tags"]["taskora.outcome"] for span in sentry.spans)
    assert outcomes == ["failed", "retrying"]
    assert "ok" not in {span["status"] for span in sentry.spans}  # both attempts raised
