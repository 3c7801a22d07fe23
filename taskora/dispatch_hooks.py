"""The producer side of middleware: ``before_dispatch(request)`` runs as a job is built for enqueueing.

A middleware object (``app.use(mw)`` or a task's ``middleware=``) may define ``before_dispatch(request)`` next
to its ``__call__``; it sees the EnqueueRequest before anything is written and may add string fields to
``request.fields`` (the job's meta, read in the worker with ``ctx.meta``/``ctx.metas``). That is how a
tracer carries its context from the dispatching process to the worker (taskora.otel, taskora.sentry).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapters.base import EnqueueRequest
    from .app import Taskora


def before_dispatch(app: Taskora, task_middleware: Iterable[Any], request: EnqueueRequest) -> EnqueueRequest:
    """Run every ``before_dispatch`` hook of the app's, then the task's, middleware on ``request``."""
    if not app.middleware and not task_middleware:
        return request
    for middleware in (*app.middleware, *task_middleware):
        hook = getattr(middleware, "before_dispatch", None)
        if hook is not None:
            hook(request)
    return request
