"""Sentry for taskora: the same two middleware hooks as taskora.otel, with the Sentry SDK.

``app.use(SentryMiddleware())`` (after ``sentry_sdk.init(...)``):

* at dispatch, the caller's Sentry trace (``sentry-trace`` and ``baggage``) is written into the job's meta
  (``sentry.sentry-trace``, ``sentry.baggage``), so the worker's transaction joins the dispatcher's trace;
* in the worker, each job runs in its own isolation scope (tags ``taskora.task``, ``taskora.job_id``,
  ``taskora.attempt``) inside a ``queue.task.taskora`` transaction named after the task and tagged with
  ``taskora.outcome`` (completed, retrying, failed); an exception that ends the job for good is captured (an
  attempt that will be retried is not: its last attempt reports).

``sentry-sdk`` is not a dependency of taskora: install it yourself (any 2.x).
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


class SentryMiddleware:
    """Trace propagation at dispatch; a scope, a transaction and error capture around each job."""

    def __init__(self) -> None:
        self._sdk = require("sentry_sdk", "sentry", "SentryMiddleware")  # pip install sentry-sdk

    def before_dispatch(self, request: EnqueueRequest) -> None:
        traceparent, baggage = self._sdk.get_traceparent(), self._sdk.get_baggage()
        if traceparent:
            request.fields[META_PREFIX + "sentry-trace"] = traceparent
        if baggage:
            request.fields[META_PREFIX + "baggage"] = baggage

    def __call__(self, mctx: MiddlewareContext, call_next: Callable[[], Any]) -> Any:
        with self._sdk.isolation_scope() as scope:
            scope.set_tag("taskora.task", mctx.task)
            scope.set_tag("taskora.job_id", mctx.id)
            scope.set_tag("taskora.attempt", str(mctx.attempt))
            transaction = self._sdk.continue_trace(mctx.metas(META_PREFIX), op="queue.task.taskora",
                                                   name=mctx.task, source="task")
            with self._sdk.start_transaction(transaction) as span:
                return self._run(mctx, call_next, span)

    def _run(self, mctx: MiddlewareContext, call_next: Callable[[], Any], span: Any) -> Any:
        try:
            result = call_next()
        except Exception as exc:
            retrying = will_retry(mctx, exc)
            span.set_tag("taskora.outcome", "retrying" if retrying else "failed")
            if not retrying:
                self._sdk.capture_exception(exc)
            raise  # the transaction ends with status internal_error
        span.set_tag("taskora.outcome", "completed")
        span.set_status("ok")
        return result
