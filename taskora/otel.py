"""OpenTelemetry tracing: one trace from the dispatching code to the handler, across processes.

``app.use(OpenTelemetryMiddleware())`` does both halves:

* at dispatch (``before_dispatch``), a PRODUCER span ``<task> publish`` is started as a child of the caller's
  current span, and its context is written into the job's meta (``otel.traceparent`` and, when set,
  ``otel.tracestate``/``otel.baggage``) by the configured propagator (W3C trace context by default);
* in the worker (``__call__``), a CONSUMER span ``<task> process`` continues that context around the rest of
  the middleware and the handler, so spans the handler opens nest under it;
* a dispatch made by a worker thread right after it ran a job, outside any span (a workflow's next step,
  enqueued as the step before completes), continues that job's trace, also when the handler ran on another
  thread (a prefork child running one job at a time runs it on its main thread): the consumer span's context is
  kept by job id, and the slot thread names its job (job_thread.py).

Both carry ``messaging.system=taskora``, the task name, the job id; the consumer span also the attempt and
the outcome (``completed``, ``retrying`` or ``failed``), with the exception recorded on failure. The
``opentelemetry-api`` package is the extra ``taskora[otel]`` (with ``opentelemetry-sdk`` to export).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import __version__
from .extras import require
from .job_thread import last_job_here
from .retry import should_retry

if TYPE_CHECKING:
    from .adapters.base import EnqueueRequest
    from .middleware import MiddlewareContext

#: Job meta fields holding the propagated context start with this (``otel.traceparent`` ...).
META_PREFIX = "otel."
#: Consumer span contexts kept for the jobs run last (a slot thread dispatches for its job right after it).
REMEMBERED_JOBS = 1024


class OpenTelemetryMiddleware:
    """Producer span at dispatch, consumer span in the worker, joined through the job's meta."""

    def __init__(self, tracer_provider: Any = None, propagator: Any = None) -> None:
        """``tracer_provider``: where spans go (default: the global one); ``propagator``: how the context is
        written into the job (default: the global one, W3C trace context and baggage)."""
        self._trace = require("opentelemetry.trace", "otel", "OpenTelemetryMiddleware")
        self._propagate = require("opentelemetry.propagate", "otel", "OpenTelemetryMiddleware")
        self._tracer = self._trace.get_tracer("taskora", __version__, tracer_provider=tracer_provider)
        self._propagator = propagator
        #: The consumer spans of the jobs run last, by job id: the parent of what the worker enqueues for a job.
        self._by_job: OrderedDict[str, Any] = OrderedDict()
        self._by_job_lock = threading.Lock()

    # -- producer: in the process that dispatches ----------------------------------------------------------
    def before_dispatch(self, request: EnqueueRequest) -> None:
        attributes = _attributes(request.task, request.id, "publish")
        parent = None
        if not self._trace.get_current_span().get_span_context().is_valid:
            parent = self._context_of(last_job_here())
        with self._tracer.start_as_current_span(f"{request.task} publish", context=parent,
                                                kind=self._trace.SpanKind.PRODUCER, attributes=attributes):
            carrier: dict[str, str] = {}
            self._inject(carrier)
        request.fields.update({META_PREFIX + name: value for name, value in carrier.items()})

    # -- consumer: in the worker, around the handler ----------------------------------------------------
    def __call__(self, mctx: MiddlewareContext, call_next: Callable[[], Any]) -> Any:
        parent = self._extract(mctx.metas(META_PREFIX))
        attributes = {**_attributes(mctx.task, mctx.id, "process"), "taskora.attempt": mctx.attempt}
        with self._tracer.start_as_current_span(f"{mctx.task} process", context=parent,
                                                kind=self._trace.SpanKind.CONSUMER, attributes=attributes,
                                                record_exception=False, set_status_on_exception=False) as span:
            self._remember(mctx.id, self._trace.set_span_in_context(span))
            try:
                result = call_next()
            except BaseException as exc:
                self._record_failure(span, mctx, exc)
                raise
            span.set_attribute("taskora.outcome", "completed")
            return result

    def _remember(self, job_id: str, context: Any) -> None:
        with self._by_job_lock:
            self._by_job[job_id] = context
            self._by_job.move_to_end(job_id)
            while len(self._by_job) > REMEMBERED_JOBS:
                self._by_job.popitem(last=False)

    def _context_of(self, job_id: str | None) -> Any:
        if job_id is None:
            return None
        with self._by_job_lock:
            return self._by_job.get(job_id)

    def _record_failure(self, span: Any, mctx: MiddlewareContext, error: BaseException) -> None:
        span.set_attribute("taskora.outcome", "retrying" if will_retry(mctx, error) else "failed")
        span.record_exception(error)
        span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, f"{type(error).__name__}: {error}"))

    def _inject(self, carrier: dict[str, str]) -> None:
        if self._propagator is not None:
            self._propagator.inject(carrier)
        else:
            self._propagate.inject(carrier)

    def _extract(self, carrier: dict[str, str]) -> Any:
        if self._propagator is not None:
            return self._propagator.extract(carrier)
        return self._propagate.extract(carrier)


def _attributes(task: str, job_id: str, operation: str) -> dict[str, Any]:
    return {"messaging.system": "taskora", "messaging.operation": operation, "messaging.destination.name": task,
            "messaging.message.id": job_id, "taskora.task": task, "taskora.job_id": job_id}


def will_retry(mctx: MiddlewareContext, error: BaseException) -> bool:
    """Whether the worker will run this job again after ``error`` (the task's retry policy decides)."""
    task = getattr(getattr(mctx.ctx, "_job", None), "task", None)  # the worker's runtime of this job
    if task is None or not isinstance(error, Exception):
        return mctx.attempt < mctx.ctx.max_attempts and isinstance(error, Exception)
    return bool(should_retry(task.options.retry, error, mctx.attempt))
