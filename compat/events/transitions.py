"""Job transitions from the engine's per-task event streams, as the Celery task events a monitor expects.

The engine writes one stream entry per transition of a job (``waiting``, ``active``, ``completed``...; see
docs/wire-format.md); its id is the time in milliseconds. Each mapped entry becomes one Celery event dict:

=========================  ===========================================================================
engine event                Celery event (fields besides ``uuid``, ``hostname``, ``timestamp``, ``clock``)
=========================  ===========================================================================
``waiting``, ``delayed``    ``task-received``: ``name``, ``args``, ``kwargs`` (reprs), ``retries``, ``eta``,
                            ``expires``, ``parent_id``, ``root_id`` (read from the job once)
``active``                  ``task-started``
``completed``               ``task-succeeded``: ``result`` (repr), ``runtime`` (seconds)
``failed``                  ``task-failed``: ``exception`` (``Type('message')``), ``traceback``
``retrying``                ``task-retried``: ``exception``
``cancelled``, ``expired``  ``task-revoked``: ``terminated``, ``expired``, ``signum``
=========================  ===========================================================================

Other entries (``progress``, ``stalled``, ``promoted``, ``collect``, ``debounced``) have no Celery counterpart and
are skipped. The engine does not record which worker ran a job, so ``hostname`` is the engine's address
(``taskora@<host:port>``), the same for every transition.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..app._inspect_requests import celery_name

#: Engine event name -> Celery event type.
CELERY_TYPES = {"waiting": "task-received", "delayed": "task-received", "active": "task-started",
                "completed": "task-succeeded", "failed": "task-failed", "retrying": "task-retried",
                "cancelled": "task-revoked", "expired": "task-revoked"}  # fmt: skip


def engine_hostname(adapter: Any) -> str:
    return f"taskora@{adapter.address}"


def celery_event(app: Any, engine_task: str, entry_id: str, fields: dict[str, Any],
                 hostname: str) -> dict[str, Any] | None:  # fmt: skip
    """The Celery event for one stream entry, or None when it has none."""
    kind = fields.get("event", "")
    type_ = CELERY_TYPES.get(kind)
    if type_ is None:
        return None
    event = {"type": type_, "uuid": fields.get("jobId", ""), "hostname": hostname,
             "timestamp": int(entry_id.partition("-")[0]) / 1000}  # fmt: skip
    event.update(_DETAILS[type_](app, engine_task, kind, fields))
    return event


def _job(app: Any, engine_task: str, job_id: str) -> Any:
    from ..result import AsyncResult

    return AsyncResult(job_id, app=app, engine_task=engine_task)


def _received(app: Any, engine_task: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    result = _job(app, engine_task, fields.get("jobId", ""))
    job = result._fields() or {}
    return {"name": result.name or celery_name(engine_task), "args": repr(tuple(result.args or ())),
            "kwargs": repr(result.kwargs or {}), "retries": int(_text(job.get("attempt")) or 1) - 1,
            "eta": _text(job.get("celery.eta")), "expires": _text(job.get("celery.expires")),
            "parent_id": _text(job.get("celery.parent_id")),
            "root_id": _text(job.get("celery.root_id")) or result.id}  # fmt: skip


def _started(app: Any, engine_task: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {}


def _succeeded(app: Any, engine_task: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    result = _job(app, engine_task, fields.get("jobId", ""))
    job = result._fields() or {}
    started, finished = _ms(job.get("processedOn")), _ms(job.get("finishedOn"))
    runtime = (finished - started) / 1000 if started is not None and finished is not None else None
    return {"result": repr(result.result), "runtime": runtime}


def _failed(app: Any, engine_task: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    detail = _detail(app, engine_task, fields.get("jobId", ""))
    return {"exception": _exception_repr(detail, _text(fields.get("error")) or ""),
            "traceback": detail.get("traceback")}  # fmt: skip


def _retried(app: Any, engine_task: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"exception": repr(_text(fields.get("error")) or ""), "traceback": None}


def _revoked(app: Any, engine_task: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    expired = kind == "expired"
    return {"terminated": not expired and bool(_text(fields.get("reason"))), "signum": None, "expired": expired}


_DETAILS: dict[str, Callable[[Any, str, str, dict[str, Any]], dict[str, Any]]] = {
    "task-received": _received, "task-started": _started, "task-succeeded": _succeeded, "task-failed": _failed,
    "task-retried": _retried, "task-revoked": _revoked}  # fmt: skip


def _detail(app: Any, engine_task: str, job_id: str) -> dict[str, Any]:
    """The failure's stored detail (type, message, traceback), or {} when there is none."""
    raw = _text(app.__taskora_app__.adapter.get_fields(engine_task, job_id, ["errorDetail"]).get("errorDetail"))
    try:
        detail = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _exception_repr(detail: dict[str, Any], message: str) -> str:
    """``ValueError('bad')``, as Celery's ``task-failed`` carries ``repr(exc)``."""
    type_name = detail.get("type") or "Exception"
    args = detail.get("args")
    if isinstance(args, list):
        return f"{type_name}({', '.join(repr(arg) for arg in args)})"
    return f"{type_name}({detail.get('message', message)!r})"


def _ms(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text and text.isdigit() else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
