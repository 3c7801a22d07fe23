"""Running one Celery task invocation (worker or eager): request push, signals, hooks, retry outcome.

Both the worker handler and ``Task.apply`` go through :func:`trace`, so signals and hooks behave the
same in both. Celery runs ``on_success``/``on_failure``/``after_return`` *after* storing the state;
taskora stores the state when the handler returns, so these hooks run just before the job's final
state is written (their exceptions are logged, and re-raised in eager mode, as in Celery).
"""

from __future__ import annotations

import functools
import json
import logging
import reprlib
import time
import traceback as tb_module
from dataclasses import dataclass
from typing import Any, NoReturn

from taskora.errors import RetryError

from .. import signals, states
from .._state import push_task
from ..exceptions import Ignore, Reject, Retry
from ._trace_frames import clear_frames
from .trace import LOG_FAILURE, LOG_IGNORED, LOG_REJECTED, LOG_RETRY, LOG_SUCCESS, log_context, log_line

log = logging.getLogger("taskora.compat.trace")
#: Celery's logger of task outcomes: projects filter and alert on its name and its lines.
trace_log = logging.getLogger("celery.app.trace")
#: Attribute set on an exception this module logged, so the worker does not log the same failure again.
LOGGED_MARK = "_celery_trace_logged"
#: Longest repr of a return value in the success line (Celery's ``resultrepr_maxsize``).
RESULT_REPR_MAXSIZE = 1024


class RetrySignal(RetryError):
    """What the worker handler raises for ``self.retry()``: the engine retries the same job id.

    Its single argument is the JSON detail of the retry's exception, which ``AsyncResult.info``
    shows while the task is in RETRY; ``data`` is the next attempt's ``{"args", "kwargs"}`` when
    ``retry(args=, kwargs=)`` changed them.
    """

    def __init__(self, detail: str, delay: float | None, data: Any = RetryError.KEEP_DATA) -> None:
        super().__init__(detail, delay, data)
        self.args = (detail,)


class ExceptionInfo:
    """Celery's ``einfo``: the exception, its type and its formatted traceback.

    The text is formatted when first read: every failure and retry builds one, few hooks read it, and
    formatting a traceback is most of the cost of a run that retries at once."""

    def __init__(self, exc: BaseException) -> None:
        self.exception = exc
        self.type = type(exc)
        self.tb = exc.__traceback__

    @functools.cached_property
    def traceback(self) -> str:
        return "".join(tb_module.format_exception(self.type, self.exception, self.tb))

    def __str__(self) -> str:
        return self.traceback


@dataclass
class TraceOutcome:
    """How one invocation ended: state (SUCCESS, FAILURE, RETRY, IGNORED), value or exception."""

    state: str
    retval: Any = None
    einfo: ExceptionInfo | None = None


def exception_detail(exc: BaseException | None) -> str:
    """The JSON form of an exception the result side rebuilds (type, module, args)."""
    if exc is None:
        return ""
    try:
        args = json.loads(json.dumps(list(exc.args), default=repr))
    except (TypeError, ValueError):
        args = [repr(a) for a in exc.args]
    return json.dumps({"type": type(exc).__qualname__, "module": type(exc).__module__, "args": args,
                       "message": str(exc)})


def _safe(hook: Any, *args: Any, eager: bool) -> None:
    try:
        hook(*args)
    except Exception:
        if eager:
            raise
        log.exception("task hook %r raised", hook)


def raise_traced(error: BaseException) -> NoReturn:
    """Raise an eager task's failure to its caller, its finished frames (``trace``'s among them) cleared."""
    clear_frames(error, callers=1)
    raise error


def trace(task: Any, request: Any, *, eager: bool) -> TraceOutcome:
    """Run ``task`` for ``request`` (already built) with signals and hooks; never raises task errors."""
    args, kwargs = list(request.args or ()), dict(request.kwargs or {})
    with task.pushed_request(request), push_task(task):
        signals.task_prerun.send(sender=task, task_id=request.id, task=task, args=args, kwargs=kwargs)
        outcome = _run(task, request, args, kwargs, eager, time.monotonic())
        if outcome.einfo is not None:  # handled, logged and hooked: what its frames hold can go
            clear_frames(outcome.einfo.exception)
        signals.task_postrun.send(sender=task, task_id=request.id, task=task, args=args, kwargs=kwargs,
                                  retval=outcome.retval, state=outcome.state)
    return outcome


def _run(task: Any, request: Any, args: list[Any], kwargs: dict[str, Any], eager: bool,
         started: float) -> TraceOutcome:  # fmt: skip
    try:
        _safe(task.before_start, request.id, args, kwargs, eager=eager)
        retval = task.execute_body(args, kwargs)
    except Retry as retry:
        return _on_retry(task, request, retry, args, kwargs, eager)
    except Ignore:
        log_line(trace_log, logging.INFO, LOG_IGNORED, log_context(task, request, description="ignored"))
        return TraceOutcome(states.IGNORED)
    except Reject as reject:
        return _on_reject(task, request, reject, args, kwargs)
    except Exception as exc:
        return _on_failure(task, request, exc, args, kwargs, eager)
    pending = getattr(request, "_pending_retry", None)
    if pending is not None and not eager:  # retry(throw=False): the retry was already "sent"
        return _on_retry(task, request, pending, args, kwargs, eager)
    return _on_success(task, request, retval, args, kwargs, eager, time.monotonic() - started)


def _on_success(task: Any, request: Any, retval: Any, args: list[Any], kwargs: dict[str, Any], eager: bool,
                runtime: float) -> TraceOutcome:  # fmt: skip
    _safe(task.on_success, retval, request.id, args, kwargs, eager=eager)
    signals.task_success.send(sender=task, result=retval, runtime=runtime)
    if trace_log.isEnabledFor(logging.INFO):
        log_line(trace_log, logging.INFO, LOG_SUCCESS,
                 log_context(task, request, runtime=runtime, return_value=result_repr(retval)))
    _safe(task.after_return, states.SUCCESS, retval, request.id, args, kwargs, None, eager=eager)
    return TraceOutcome(states.SUCCESS, retval)


def result_repr(value: Any) -> str:
    """``repr(value)`` cut to :data:`RESULT_REPR_MAXSIZE` characters, never raising."""
    limiter = reprlib.Repr()
    limiter.maxstring = limiter.maxother = RESULT_REPR_MAXSIZE
    try:
        text = repr(value)
    except Exception:
        text = limiter.repr(value)
    return text if len(text) <= RESULT_REPR_MAXSIZE else text[:RESULT_REPR_MAXSIZE - 3] + "..."


def _on_reject(task: Any, request: Any, reject: Reject, args: list[Any], kwargs: dict[str, Any]) -> TraceOutcome:
    """``Reject``: logged as rejected; without ``requeue`` the task fails (``task_failure``, no hooks), as in Celery."""
    einfo = ExceptionInfo(reject)
    log_line(trace_log, logging.WARNING, LOG_REJECTED, log_context(task, request, exc=_safe_repr(reject)),
             exc_info=(type(reject), reject, reject.__traceback__))
    if reject.requeue:
        return TraceOutcome(states.REJECTED, reject, einfo)
    signals.task_failure.send(sender=task, task_id=request.id, exception=reject, args=args, kwargs=kwargs,
                              traceback=einfo.tb, einfo=einfo)
    mark_logged(reject)
    return TraceOutcome(states.FAILURE, reject, einfo)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def _on_retry(task: Any, request: Any, retry: Retry, args: list[Any], kwargs: dict[str, Any],
              eager: bool) -> TraceOutcome:  # fmt: skip
    einfo = ExceptionInfo(retry)
    _safe(task.on_retry, retry.exc if retry.exc is not None else retry, request.id, args, kwargs, einfo, eager=eager)
    signals.task_retry.send(sender=task, request=request, reason=retry, einfo=einfo)
    if trace_log.isEnabledFor(logging.INFO):  # the context reprs the arguments: only for a line that is written
        log_line(trace_log, logging.INFO, LOG_RETRY, log_context(task, request, exc=retry))
    return TraceOutcome(states.RETRY, retry, einfo)


def _on_failure(task: Any, request: Any, exc: BaseException, args: list[Any], kwargs: dict[str, Any],
                eager: bool) -> TraceOutcome:  # fmt: skip
    einfo = ExceptionInfo(exc)
    _safe(task.on_failure, exc, request.id, args, kwargs, einfo, eager=eager)
    signals.task_failure.send(sender=task, task_id=request.id, exception=exc, args=args, kwargs=kwargs,
                              traceback=einfo.tb, einfo=einfo)
    _log_failure(task, request, exc)
    _safe(task.after_return, states.FAILURE, exc, request.id, args, kwargs, None, eager=eager)
    return TraceOutcome(states.FAILURE, exc, einfo)


def _log_failure(task: Any, request: Any, exc: BaseException) -> None:
    """An exception listed in ``throws`` is expected (INFO, no traceback); any other is an ERROR with one."""
    if isinstance(exc, tuple(getattr(task, "throws", ()) or ())):
        log_line(trace_log, logging.INFO, LOG_FAILURE,
                 log_context(task, request, description="raised expected", exc=_safe_repr(exc)))
    else:
        log_line(trace_log, logging.ERROR, LOG_FAILURE,
                 log_context(task, request, description="raised unexpected", exc=_safe_repr(exc)),
                 exc_info=(type(exc), exc, exc.__traceback__))
    mark_logged(exc)


def mark_logged(exc: BaseException) -> None:
    """Note that ``exc`` was logged in Celery's words (the worker's own failure line then stays quiet)."""
    try:
        setattr(exc, LOGGED_MARK, True)
    except (AttributeError, TypeError):  # an exception type that refuses attributes is logged twice, not lost
        pass


def retry_delay(retry: Retry, now_s: float) -> float:
    """Seconds until the retry runs: ``when`` is a countdown, a datetime ETA or an ISO string."""
    from datetime import datetime, timezone

    when = retry.when
    if when is None:
        return 0.0
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, when.timestamp() - now_s)
    return max(0.0, float(when))
