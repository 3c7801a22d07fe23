"""Sentry for taskora: the same two middleware hooks as taskora.otel, with the Sentry SDK.

``app.use(SentryMiddleware())`` (after ``sentry_sdk.init(...)``):

* at dispatch, the caller's Sentry trace (``sentry-trace`` and ``baggage``) is written into the job's meta
  (``sentry.sentry-trace``, ``sentry.baggage``), so the worker's span joins the dispatcher's trace;
* in the worker, each job runs in its own isolation scope (tags ``taskora.task``, ``taskora.job_id``,
  ``taskora.attempt``) inside a top-level ``queue.task.taskora`` span named after the task, marked with
  ``taskora.outcome`` (completed, retrying, failed); an exception that ends the job for good is captured (an
  attempt that will be retried is not: its last attempt reports).

``sentry-sdk`` is not a dependency of taskora: install it yourself, 2.x or 3.x. The two trace differently:
2.x sends a transaction per job (the outcome a tag), 3.x streams spans, where a job's span is a segment (the
outcome, and the job's task, id and attempt, attributes of it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .extras import require
from .otel import will_retry

if TYPE_CHECKING:
    from .adapters.base import EnqueueRequest
    from .middleware import MiddlewareContext

#: Job meta fields holding the propagated trace start with this.
META_PREFIX = "sentry."
#: The operation a job's span is recorded as.
JOB_OP = "queue.task.taskora"


class SentryMiddleware:
    """Trace propagation at dispatch; a scope, a span and error capture around each job."""

    def __init__(self) -> None:
        sdk = require("sentry_sdk", "sentry", "SentryMiddleware")  # pip install sentry-sdk
        self._sdk = sdk
        self._spans = _Transactions(sdk) if hasattr(sdk, "start_transaction") else _Segments(sdk)

    def before_dispatch(self, request: EnqueueRequest) -> None:
        traceparent, baggage = self._sdk.get_traceparent(), self._sdk.get_baggage()
        if traceparent:
            request.fields[META_PREFIX + "sentry-trace"] = traceparent
        if baggage:
            request.fields[META_PREFIX + "baggage"] = baggage

    def __call__(self, mctx: MiddlewareContext, call_next: Callable[[], Any]) -> Any:
        with self._sdk.isolation_scope() as scope:
            tags = {"taskora.task": mctx.task, "taskora.job_id": mctx.id, "taskora.attempt": str(mctx.attempt)}
            for name, value in tags.items():
                scope.set_tag(name, value)
            with self._spans.start(mctx.metas(META_PREFIX), mctx.task, tags) as span:
                return self._run(mctx, call_next, span)

    def _run(self, mctx: MiddlewareContext, call_next: Callable[[], Any], span: Any) -> Any:
        try:
            result = call_next()
        except Exception as exc:
            retrying = will_retry(mctx, exc)
            self._spans.mark(span, "retrying" if retrying else "failed")
            if not retrying:
                self._sdk.capture_exception(exc)
            raise  # the span ends with an error status
        self._spans.mark(span, "completed", ok=True)
        return result


class _Transactions:
    """sentry-sdk 2.x: a job is a transaction, continued from the dispatcher's trace headers."""

    def __init__(self, sdk: Any) -> None:
        self._sdk = sdk

    def start(self, headers: dict[str, str], task: str, tags: dict[str, str]) -> Any:
        transaction = self._sdk.continue_trace(headers, op=JOB_OP, name=task, source="task")
        return self._sdk.start_transaction(transaction)  # the scope's tags go with it

    @staticmethod
    def mark(span: Any, outcome: str, ok: bool = False) -> None:
        span.set_tag("taskora.outcome", outcome)
        if ok:
            span.set_status("ok")


class _Segments:
    """sentry-sdk 3.x: spans are streamed, and a job is a segment (a span with no parent) in the dispatcher's trace.
    Scope tags reach error events only, so the job's are attributes of its span too."""

    def __init__(self, sdk: Any) -> None:
        self._sdk = sdk

    def start(self, headers: dict[str, str], task: str, tags: dict[str, str]) -> Any:
        self._sdk.continue_trace(headers)
        attributes = {"sentry.op": JOB_OP, "sentry.segment.name.source": "task", **tags}
        return self._sdk.start_span(name=task, parent_span=None, attributes=attributes)

    @staticmethod
    def mark(span: Any, outcome: str, ok: bool = False) -> None:
        span.set_attribute("taskora.outcome", outcome)
        if ok:
            span.status = "ok"
