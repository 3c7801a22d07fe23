"""SentryMiddleware: the dispatcher's Sentry trace reaches the worker's transaction through the job's meta, and a
job that fails for good is captured once with its task, id and attempt; a real in-process worker, both engines."""

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


class Captured(Transport):
    """Keeps what the SDK would send: error events and transactions."""

    events: list[dict[str, Any]] = []
    lock = threading.Lock()

    def capture_envelope(self, envelope: Any) -> None:
        with self.lock:
            for item in envelope.items:
                if item.type in ("event", "transaction"):
                    self.events.append(item.payload.json)


@pytest.fixture
def sentry() -> Iterator[list[dict[str, Any]]]:
    Captured.events = []
    sentry_sdk.init(dsn="http://public@127.0.0.1:1/1", transport=Captured, traces_sample_rate=1.0,
                    default_integrations=False, auto_enabling_integrations=False)
    yield Captured.events
    sentry_sdk.get_client().close()
    # A client without a DSN, and without the default integrations: those patch logging, threading and the
    # standard library for the rest of the process (its logging one kept a later test's failed task's locals alive).
    sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("type", "event") == kind]


def test_the_workers_transaction_joins_the_dispatchers_trace(app: Taskora, sentry: list[dict[str, Any]]) -> None:
    app.use(SentryMiddleware())
    echo = app.task("echo", lambda data: data)
    app.start()
    with sentry_sdk.start_transaction(name="web request", op="http.server") as request:
        handle = echo.dispatch("hi")
    assert handle.result(timeout=10) == "hi"
    sentry_sdk.flush()

    (job,) = [t for t in of_type(sentry, "transaction") if t["transaction"] == "echo"]
    assert job["contexts"]["trace"]["trace_id"] == request.trace_id
    assert job["contexts"]["trace"]["op"] == "queue.task.taskora" and job["contexts"]["trace"]["status"] == "ok"
    assert job["tags"]["taskora.job_id"] == handle.id


def test_a_final_failure_is_captured_once_a_retried_attempt_is_not(app: Taskora,
                                                                  sentry: list[dict[str, Any]]) -> None:
    app.use(SentryMiddleware())

    def always_fails(data: Any) -> None:
        raise ValueError("boom")

    task = app.task("doomed", always_fails, retry={"attempts": 2, "delay": 0})
    app.start()
    handle = task.dispatch(None)
    with pytest.raises(JobFailedError):
        handle.result(timeout=10)
    sentry_sdk.flush()

    (error,) = of_type(sentry, "event")
    assert error["exception"]["values"][-1]["type"] == "ValueError"
    assert error["tags"] == {"taskora.task": "doomed", "taskora.job_id": handle.id, "taskora.attempt": "2"}
    outcomes = sorted(t["tags"]["taskora.outcome"] for t in of_type(sentry, "transaction"))
    assert outcomes == ["failed", "retrying"]
