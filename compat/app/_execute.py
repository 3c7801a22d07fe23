"""The native handler of a Celery task, the requests it builds, and link/errback callbacks.

A job's data is ``{"args": [...], "kwargs": {...}}``; Celery metadata (headers, eta, root/parent
ids...) sits in extra job-hash fields named ``celery.<key>``, read back through ``ctx.meta``.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from taskora.errors import RetryError, SerializationError
from taskora.serialization import JsonSerializer

from .. import signals, states
from .._canvas_api import canvas
from .._children import store_children
from .._result_base import ResultBase
from .._state import get_current_task
from ..result import CELERY_STATE_KEY, IGNORED_RESULT
from ..worker import state as worker_state
from . import _revoked_stamps
from ._properties import properties_read
from ._publish_compact import is_front_job, queue_name
from ._trace import RetrySignal, TraceOutcome, exception_detail, retry_delay, trace
from ._worker_errors import envelope_problem, internal_error, reject_invalid
from .task import Context
from .trace import LOG_RECEIVED, log_context, log_line

log = logging.getLogger("taskora.compat.worker")
#: Celery's logger of task receipt (``Task x[id] received``).
strategy_log = logging.getLogger("celery.worker.strategy")
#: Seconds before a job rejected with ``Reject(requeue=True)`` is due again (at the back of its queue):
#: long enough that a task rejecting every delivery cannot spin a worker, short enough to feel immediate.
REQUEUE_DELAY = 1.0
#: Job-data key counting ``Reject(requeue=True)`` redeliveries (they are attempts, not retries).
REDELIVERED_KEY = "redelivered"

#: Job-hash fields holding JSON values (the others are plain strings).
#: Decodes the type tags :func:`_tagged` writes.
_TAGS = JsonSerializer()
JSON_META = ("headers", "link", "link_error", "timelimit", "properties")


def meta_fields(values: dict[str, Any]) -> dict[str, str]:
    """Celery metadata as job-hash fields: ``celery.<key>``, JSON for structured values, None dropped."""
    out = {}
    for key, value in values.items():
        if value is None:
            continue
        out[f"celery.{key}"] = _meta_json(value) if key in JSON_META else str(value)
    return out


def _tagged(value: Any) -> Any:
    """A value JSON cannot carry (bytes, datetime...) in a callback's args: taskora's type tag, so the
    callback gets the same value back (Celery's kombu JSON does the same); anything else as text."""
    try:
        return json.loads(_TAGS.dumps(value))
    except SerializationError:
        return str(value)


#: ``json.dumps(value, default=_tagged)``, built once: ``dumps`` with an argument builds a new encoder per call,
#: and every publish encodes the message properties (the same text either way).
_META_JSON = json.JSONEncoder(default=_tagged)


class _ThreadMetaEncoder(threading.local):
    """The C encoder ``_META_JSON.encode`` makes on every call, made once per thread (its ``markers``, the
    containers being encoded, must not be shared by two encodes at once); None without CPython's C
    accelerator. Same arguments as ``JSONEncoder.iterencode``, so the same text as ``json.dumps``."""

    def __init__(self) -> None:
        make = getattr(json.encoder, "c_make_encoder", None)
        self.markers: dict[int, Any] = {}
        self.encode: Callable[[Any, int], Any] | None = None
        if make is not None:
            self.encode = make(self.markers, _tagged, json.encoder.encode_basestring_ascii, None, ": ", ", ",
                               False, False, True)


_META_ENCODER = _ThreadMetaEncoder()


def _meta_json(value: Any) -> str:
    """``json.dumps(value, default=_tagged)``, without building an encoder (about half its cost per publish)."""
    encoder = _META_ENCODER
    if encoder.encode is None or isinstance(value, str):
        return _META_JSON.encode(value)
    try:
        return "".join(encoder.encode(value, 0))
    except BaseException:
        encoder.markers.clear()  # a failed encode leaves its containers behind
        raise


def loads_meta(raw: str) -> Any:
    """A JSON meta field, type tags decoded (see :func:`_tagged`)."""
    return _TAGS.loads(raw)


def _celery_meta(ctx: Any) -> dict[str, Any]:
    """The job's Celery metadata (see :func:`meta_fields`) in one read, structured values decoded."""
    values: dict[str, Any] = ctx.metas("celery.")
    for key in JSON_META:
        raw = values.get(key)
        if raw is not None:
            try:
                values[key] = loads_meta(raw)
            except ValueError:
                values[key] = None
    return values


def parent_ids(task_id: str) -> dict[str, Any]:
    """``parent_id``/``root_id`` for a call made now: the running task is the parent (Celery's trail)."""
    current = get_current_task()
    request = current.request if current is not None else None
    if request is None or request.called_directly or request.id is None:
        return {"parent_id": None, "root_id": task_id}
    return {"parent_id": request.id, "root_id": request.root_id or request.id}


def worker_request(app: Any, task: Any, data: Any, ctx: Any) -> Any:
    """The ``self.request`` of a job a worker runs."""
    data = data if isinstance(data, dict) else {}
    meta = _celery_meta(ctx)
    headers = meta.get("headers") or None
    queue = queue_name(meta.get("queue"), ctx.task, is_front_job(meta, prefix=""))  # a publish may leave it out
    requeued = _redeliveries(data)  # Reject(requeue=True) runs count as attempts, not as retries
    request = Context({  # one dict, not keywords: a keyword call copies all of them twice more on its way in
        "id": ctx.id, "task": task.name, "args": list(data.get("args") or []),
        "kwargs": dict(data.get("kwargs") or {}), "retries": max(0, ctx.attempt - 1 - requeued), "is_eager": False,
        "called_directly": False, "eta": meta.get("eta"), "expires": meta.get("expires"),
        "root_id": meta.get("root_id") or ctx.id, "parent_id": meta.get("parent_id"), "group": meta.get("group"),
        "group_index": meta.get("group_index"), "hostname": app.hostname, "correlation_id": ctx.id,
        "origin": meta.get("origin"), "timelimit": meta.get("timelimit"), "headers": headers,
        "shadow": meta.get("shadow"), "ignore_result": _sent_ignore_result(meta, task),
        "argsrepr": meta.get("argsrepr"), "kwargsrepr": meta.get("kwargsrepr"),
        "delivery_info": {"exchange": "", "routing_key": queue, "priority": _priority(meta.get("priority")),
                          "redelivered": requeued + _stall_recoveries(ctx) > 0},
        "callbacks": meta.get("link"), "errbacks": meta.get("link_error"),
        "properties": properties_read(ctx.id, queue, meta.get("properties")),
    })  # fmt: skip
    if headers:
        request.update({k: v for k, v in headers.items() if isinstance(k, str) and k not in request.__dict__})
    request._ctx = ctx
    request._explicit_ignore_result = _STORED_BOOLEANS.get(meta.get("ignore_result"))
    return request


#: A stored ``celery.ignore_result`` field as the call's explicit value (absent: the call left it out).
_STORED_BOOLEANS: dict[Any, bool] = {"True": True, "False": False}


def _sent_ignore_result(meta: dict[str, Any], task: Any) -> bool:
    """The call's ``ignore_result`` as Celery's message would carry it: the stored one, else the task's own,
    which a publish leaves out (compat/app/_publish_compact.py)."""
    stored = meta.get("ignore_result")
    return stored == "True" if stored is not None else bool(task.resolved("ignore_result"))


def _priority(stored: Any) -> int | None:
    """The priority the call was sent with, as the integer it was (job-hash fields are text)."""
    try:
        return None if stored is None else int(stored)
    except (TypeError, ValueError):
        return None


def make_handler(app: Any, task: Any) -> Callable[[Any, Any], Any]:
    """The function taskora's worker calls for this Celery task: ``handler(data, ctx)``."""

    def handle(data: Any, ctx: Any) -> Any:
        problem = envelope_problem(data)
        if problem is not None:
            raise reject_invalid(app, task, ctx, data, problem)
        request = None
        try:
            request = worker_request(app, task, data, ctx)
            received(app, task, request)
            if _revoked_stamps.refuse_if_revoked(app, task, request, ctx):
                return IGNORED_RESULT
            if task.resolved("track_started"):
                ctx.progress({CELERY_STATE_KEY: {"state": states.STARTED,
                                                 "meta": {"pid": os.getpid(), "hostname": app.hostname}}})
            outcome = _traced_here(task, request)
            store_failure_before_errbacks(app, task, request, outcome)
            app.run_callbacks(task, request, outcome, request.callbacks, request.errbacks, eager=False)
            store_children(app, ctx, request)
        except Exception as exc:  # not the task's own error (trace keeps those): the job fails, saying so
            internal_error(task, ctx, data, request, exc)
            raise
        return native_outcome(app, outcome, data, ctx, task, request)

    handle.__name__ = f"celery_task_{task.name}"
    handle.__qualname__ = handle.__name__
    return handle


def _traced_here(task: Any, request: Any) -> TraceOutcome:
    """``trace`` with this process's ``worker.state`` kept around it: active while it runs, then ready
    (and among the successful requests when it succeeded), also when tracing itself fails."""
    worker_state.task_accepted(request)
    succeeded = False
    try:
        outcome = trace(task, request, eager=False)
        succeeded = outcome.state == states.SUCCESS
        return outcome
    finally:
        worker_state.task_ready(request, successful=succeeded)


def received(app: Any, task: Any, request: Any) -> None:
    """Celery's moment of receipt: the ``Task x[id] received`` line and ``task_received`` (sender: the app,
    standing in for Celery's consumer)."""
    if strategy_log.isEnabledFor(logging.INFO):
        context = log_context(task, request, eta=getattr(request, "eta", None))
        log_line(strategy_log, logging.INFO, LOG_RECEIVED, context)
    signals.task_received.send(sender=app, request=request)


def _redeliveries(data: dict[str, Any]) -> int:
    try:
        return max(0, int(data.get(REDELIVERED_KEY) or 0))
    except (TypeError, ValueError):
        return 0


def _stall_recoveries(ctx: Any) -> int:
    """How often the job came back after its worker died (its lock lapsed): those runs are redeliveries too."""
    try:
        return max(0, int(ctx.meta("stalledCount") or 0))
    except (TypeError, ValueError):
        return 0


def store_failure_before_errbacks(app: Any, task: Any, request: Any, outcome: TraceOutcome) -> None:
    """Record the failure before the errbacks are sent, as Celery's ``mark_as_failure`` does: an errback (or
    whoever it signals) reading this task's result must see FAILURE, not the PENDING of a job whose failure
    the engine commits only once this handler returns. Skipped when no failure would be stored at all."""
    if outcome.state != states.FAILURE or not request.errbacks:
        return
    if _ignores_result(task, request) and not task.resolved("store_errors_even_if_ignored"):
        return
    traceback = outcome.einfo.traceback if outcome.einfo is not None else None
    app.backend.store_result(request.id, outcome.retval, states.FAILURE, traceback=traceback, request=request)


def _ignores_result(task: Any, request: Any) -> bool:
    """The call's ``ignore_result`` when it was sent with one, else the task's (Celery's
    ``get_actual_ignore_result``): ``apply_async(ignore_result=False)`` keeps a result the task would ignore."""
    explicit = getattr(request, "_explicit_ignore_result", None)
    if explicit is not None:
        return bool(explicit)
    return bool(getattr(request, "ignore_result", False) or task.resolved("ignore_result"))


def _keep_beyond_job(app: Any, task: Any, request: Any, value: Any) -> None:
    """The engine does not keep the finished jobs of a task that ignores results; a call that asked to keep its
    result gets it stored apart from the job, in the backend's key for ids without a job (``result_expires``)."""
    if task is not None and request is not None and task.resolved("ignore_result"):
        app.backend.store_detached_result(request.id, value, states.SUCCESS)


def native_outcome(app: Any, outcome: TraceOutcome, data: Any = None, ctx: Any = None, task: Any = None,
                   request: Any = None) -> Any:  # fmt: skip
    """Turn a traced outcome into what the native worker expects: a value, or an exception to raise.

    With ``ignore_result`` the value is not stored (the result stays PENDING, as with Celery's backend).
    ``Reject(requeue=True)`` sends the job to the back of its queue after :data:`REQUEUE_DELAY`, marked
    redelivered, without counting a retry.
    """
    if outcome.state == states.SUCCESS:
        if task is not None and _ignores_result(task, request):
            return IGNORED_RESULT
        value = _storable(app, outcome.retval)
        _keep_beyond_job(app, task, request, value)
        return value
    if outcome.state == states.IGNORED:
        return IGNORED_RESULT
    if outcome.state == states.REJECTED:
        raise _requeue(outcome.retval, data, ctx)
    if outcome.state == states.RETRY:
        retry = outcome.retval
        inner = retry.exc if retry.exc is not None else retry
        delay = retry_delay(retry, app.__taskora_app__.adapter.now_ms() / 1000)
        raise RetrySignal(exception_detail(inner), delay, _retry_data(retry, data, ctx))
    raise outcome.retval


def _storable(app: Any, retval: Any) -> Any:
    """A task returning a result (``AsyncResult``, ``GroupResult``) stores its ``as_tuple()``, as Celery's
    backend does for every serializer but pickle (``result_from_tuple`` rebuilds it), as JSON lists."""
    if isinstance(retval, ResultBase) and getattr(app.conf, "result_serializer", "json") != "pickle":
        result: Any = retval  # AsyncResult, ResultSet, GroupResult: each has as_tuple()
        return json.loads(json.dumps(result.as_tuple()))
    return retval


def _requeue(reject: Any, data: Any, ctx: Any) -> RetrySignal:
    """The retry that puts a rejected job back, its data counting one more redelivery."""
    envelope = data if isinstance(data, dict) else {}
    again = {**envelope, REDELIVERED_KEY: _redeliveries(envelope) + 1}
    new_data = ctx.retry(data=again).data if ctx is not None else RetryError.KEEP_DATA
    return RetrySignal(exception_detail(reject), REQUEUE_DELAY, new_data)


def _retry_data(retry: Any, data: Any, ctx: Any) -> Any:
    """The next attempt's job data when ``retry(args=, kwargs=)`` changed the call, else "keep"."""
    args, kwargs = getattr(retry, "retry_args", None), getattr(retry, "retry_kwargs", None)
    if args is None or ctx is None:
        return RetryError.KEEP_DATA
    envelope = data if isinstance(data, dict) else {}
    new_args = [list(a) if type(a) is tuple else a for a in args]
    new_kwargs = dict(kwargs or {})
    if new_args == list(envelope.get("args") or []) and new_kwargs == dict(envelope.get("kwargs") or {}):
        return RetryError.KEEP_DATA
    # ctx.retry serializes the data now: arguments the serializer cannot encode fail this attempt
    return ctx.retry(data={**envelope, "args": new_args, "kwargs": new_kwargs}).data


def _signature(value: Any, app: Any) -> Any:
    return canvas().maybe_signature(value, app=app)


def _accepts_request_exc_tb(sig: Any) -> bool:
    """New-style errbacks take ``(request, exc, traceback)`` beyond their stored args (§4.7). A ``bind=True``
    task is always an old-style errback, sent the failed task's id, as Celery decides (its bound header is a
    partial): so such an errback runs as a task, and may retry."""
    if getattr(sig.type, "_decorated_bound", False):
        return False
    try:
        params = inspect.signature(sig.type.run).parameters.values()
    except Exception:
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return any(p.kind is p.VAR_POSITIONAL for p in params) or len(positional) - len(sig.args or ()) >= 3


def run_callbacks(app: Any, request: Any, outcome: TraceOutcome, links: Any, errbacks: Any, eager: bool) -> None:
    """Send ``link`` callbacks with the return value prepended, or run/send ``link_error`` errbacks."""
    if outcome.state == states.SUCCESS and links:
        for link in links if isinstance(links, (list, tuple)) else [links]:
            sig = _signature(link, app)
            if eager:
                sig.apply((outcome.retval,))
            else:
                sig.apply_async((outcome.retval,), parent_id=request.id, root_id=request.root_id)
    if outcome.state == states.FAILURE and errbacks:
        for errback in errbacks if isinstance(errbacks, (list, tuple)) else [errbacks]:
            _errback(app, request, outcome, _signature(errback, app), eager)


def _errback(app: Any, request: Any, outcome: TraceOutcome, sig: Any, eager: bool) -> None:
    try:
        if _accepts_request_exc_tb(sig):
            sig.type(request, outcome.retval, outcome.einfo.tb if outcome.einfo else None, *(sig.args or ()),
                     **(sig.kwargs or {}))
        elif eager:
            sig.apply((request.id,))
        else:
            sig.apply_async((request.id,), parent_id=request.id, root_id=request.root_id)
    except Exception:
        if eager:
            raise
        log.exception("errback %r of task %s[%s] raised", sig, request.task, request.id)


def default_hostname() -> str:
    return f"celery@{socket.gethostname()}"
