"""What a Celery worker does with a job it cannot run as a task call, and with failures around the body.

* A job whose data is not a Celery call (``{"args": [...], "kwargs": {...}}``) is Celery's "invalid task
  message": logged, ``task_rejected`` sent, never run. It fails with ``InvalidTaskError`` (Celery
  discards it silently; a failed job naming the problem is easier to find).
* A failure of the machinery around the body (metadata that cannot become a request, a callback that
  cannot be sent) is Celery's internal error: logged at CRITICAL, ``task_internal_error`` sent, and the
  job fails rather than staying active.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .. import signals
from ..exceptions import InvalidTaskError
from ._trace import ExceptionInfo, mark_logged, result_repr, trace_log

__all__ = ["InvalidMessage", "envelope_problem", "internal_error", "reject_invalid"]

#: Celery's logger of message receipt.
strategy_log = logging.getLogger("celery.worker.strategy")
LOG_INTERNAL_ERROR = "Task %s[%s] INTERNAL ERROR: %s"
LOG_INVALID = ("Received invalid task message: %s\nThe message has been ignored and discarded.\n\n"
               "The full contents of the message body was:\n%s")


@dataclass(frozen=True)
class InvalidMessage:
    """What ``task_rejected`` receivers get as ``message`` for a job that is not a Celery task call."""

    id: str
    task: str
    payload: Any


def envelope_problem(data: Any) -> str | None:
    """Why ``data`` is not a Celery call (``{"args": [...], "kwargs": {...}}``), or None when it is one."""
    if not isinstance(data, dict):
        return f"expected a mapping with 'args' and 'kwargs', got {type(data).__name__}"
    if not isinstance(data.get("args", []), (list, tuple)):
        return f"'args' must be a list, got {type(data['args']).__name__}"
    if not isinstance(data.get("kwargs", {}), dict):
        return f"'kwargs' must be a mapping, got {type(data['kwargs']).__name__}"
    return None


def reject_invalid(app: Any, task: Any, ctx: Any, data: Any, problem: str) -> InvalidTaskError:
    """A job that is no Celery call is discarded as Celery's consumer does: logged, ``task_rejected`` sent,
    and it fails (never runs, never stays active) with the returned error."""
    exc = InvalidTaskError(f"job {ctx.id} of task {task.name!r}: {problem}")
    strategy_log.error(LOG_INVALID, exc, result_repr(data))
    mark_logged(exc)
    signals.task_rejected.send(sender=app, message=InvalidMessage(ctx.id, task.name, data), exc=exc)
    return exc


def internal_error(task: Any, ctx: Any, data: Any, request: Any, exc: BaseException) -> None:
    """Celery's ``task_internal_error``: the machinery around the task body failed (bad message metadata, a
    callback that cannot be sent...). Logged as ``Task x[id] INTERNAL ERROR: …`` at CRITICAL."""
    envelope = data if isinstance(data, dict) else {}
    args, kwargs = envelope.get("args") or [], envelope.get("kwargs") or {}
    einfo = ExceptionInfo(exc)
    trace_log.critical(LOG_INTERNAL_ERROR, task.name, ctx.id, repr(exc), exc_info=(type(exc), exc, exc.__traceback__))
    signals.task_internal_error.send(sender=task, task_id=ctx.id, args=args, kwargs=kwargs, request=request,
                                     exception=exc, traceback=einfo.tb, einfo=einfo)
    mark_logged(exc)
