"""OpenTelemetry for the Celery front, through Celery's signals (what Celery users' instrumentation does).

``instrument()`` connects receivers that:

* ``before_task_publish``: start a PRODUCER span ``<task> publish`` under the caller's current span and write
  its context into the message headers (``traceparent``, ``tracestate``), which travel with the job;
  ``after_task_publish`` ends it;
* ``task_prerun``: continue that context from ``task.request`` as a CONSUMER span ``<task> run``, current
  while the task body runs (spans it opens nest under it);
* ``task_retry`` / ``task_failure``: record the outcome and the exception; ``task_postrun``: end the span
  with ``celery.state`` and ``taskora.outcome`` (completed, retrying or failed).

A native app gets the same with ``taskora.otel.OpenTelemetryMiddleware``. Canvas steps (chain, group, chord)
go to the engine directly: the tasks the caller sends get ``before_task_publish`` (a ``publish`` span), but
the headers it adds do not travel with a canvas's jobs, so each step's ``run`` span starts its own trace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from taskora import __version__
from taskora.extras import require

from .. import signals

#: Message headers that carry the trace context (the W3C propagator's fields).
CONTEXT_HEADERS = ("traceparent", "tracestate", "baggage")
_OUTCOMES = {"SUCCESS": "completed", "RETRY": "retrying"}
#: The receivers' ``dispatch_uid``: connecting them twice is a no-op.
_UID = "taskora.compat.contrib.otel"


class _CelerySpans:
    """The signal receivers, and the spans open between a pair of signals (by task id)."""

    def __init__(self, tracer_provider: Any, propagator: Any) -> None:
        self.trace = require("opentelemetry.trace", "otel", "taskora.compat.contrib.otel")
        self.context = require("opentelemetry.context", "otel", "taskora.compat.contrib.otel")
        self.propagator = propagator or require("opentelemetry.propagate", "otel", "taskora.compat.contrib.otel")
        self.tracer = self.trace.get_tracer("taskora.compat", __version__, tracer_provider=tracer_provider)
        self.publishing: dict[str, Any] = {}
        self.running: dict[str, tuple[Any, Any]] = {}
        self.lock = threading.Lock()

    def before_publish(self, sender: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
        if headers is None or not headers.get("id"):
            return
        span = self.tracer.start_span(f"{sender} publish", kind=self.trace.SpanKind.PRODUCER,
                                      attributes=_attributes(str(sender), headers["id"], "publish"))
        carrier: dict[str, str] = {}
        self.propagator.inject(carrier, context=self.trace.set_span_in_context(span))
        headers.update(carrier)
        with self.lock:
            self.publishing[headers["id"]] = span

    def after_publish(self, sender: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
        with self.lock:
            span = self.publishing.pop(str((headers or {}).get("id")), None)
        if span is not None:
            span.end()

    def prerun(self, sender: Any = None, task_id: str | None = None, task: Any = None, **_: Any) -> None:
        request = getattr(task, "request", None)
        carrier = {name: str(getattr(request, name)) for name in CONTEXT_HEADERS
                   if getattr(request, name, None) is not None}
        attributes = {**_attributes(task.name, task_id or "", "process"),
                      "taskora.attempt": int(getattr(request, "retries", 0) or 0) + 1}
        span = self.tracer.start_span(f"{task.name} run", context=self.propagator.extract(carrier),
                                      kind=self.trace.SpanKind.CONSUMER, attributes=attributes)
        token = self.context.attach(self.trace.set_span_in_context(span))
        with self.lock:
            self.running[task_id or ""] = (span, token)

    def retry(self, sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        span = self._running_span(getattr(request, "id", None))
        if span is not None and isinstance(getattr(reason, "exc", None), BaseException):
            span.record_exception(reason.exc)

    def failure(self, sender: Any = None, task_id: str | None = None, exception: Any = None, **_: Any) -> None:
        span = self._running_span(task_id)
        if span is not None and isinstance(exception, BaseException):
            span.record_exception(exception)
            span.set_status(self.trace.Status(self.trace.StatusCode.ERROR, f"{type(exception).__name__}: {exception}"))

    def postrun(self, sender: Any = None, task_id: str | None = None, state: str | None = None, **_: Any) -> None:
        with self.lock:
            span, token = self.running.pop(task_id or "", (None, None))
        if span is None:
            return
        span.set_attribute("celery.state", str(state))
        span.set_attribute("taskora.outcome", _OUTCOMES.get(str(state), "failed"))
        self.context.detach(token)
        span.end()

    def _running_span(self, task_id: str | None) -> Any:
        with self.lock:
            found = self.running.get(task_id or "")
        return found[0] if found else None


def _attributes(task: str, task_id: str, operation: str) -> dict[str, Any]:
    return {"messaging.system": "taskora", "messaging.operation": operation, "messaging.destination.name": task,
            "messaging.message.id": task_id, "celery.task_name": task, "taskora.task": task,
            "taskora.job_id": task_id}


def instrument(tracer_provider: Any = None, propagator: Any = None) -> Callable[[], None]:
    """Trace every Celery-front task published and run in this process; returns a function that stops it.

    Call it where both the publishing code and the worker start (e.g. in ``worker_process_init`` and at
    web-app start). ``tracer_provider`` defaults to the global one, ``propagator`` to the global one. A
    second call in the same process changes nothing (the first one's receivers stay, spans are not doubled)."""
    spans = _CelerySpans(tracer_provider, propagator)
    pairs = ((signals.before_task_publish, spans.before_publish), (signals.after_task_publish, spans.after_publish),
             (signals.task_prerun, spans.prerun), (signals.task_retry, spans.retry),
             (signals.task_failure, spans.failure), (signals.task_postrun, spans.postrun))
    for signal, receiver in pairs:
        signal.connect(receiver, weak=False, dispatch_uid=_UID)

    def uninstrument() -> None:
        for signal, _receiver in pairs:
            signal.disconnect(dispatch_uid=_UID)

    return uninstrument
