"""Job transitions from the engine's per-task event streams, as the Celery task events a monitor expects.

The engine writes one stream entry per transition of a job (``waiting``, ``active``, ``completed``...; see
docs/wire-format.md); its id is the time in milliseconds. Each mapped entry becomes one Celery event dict:

=========================  ===========================================================================
engine event                Celery event (fields besides ``uuid``, ``hostname``, ``timestamp``, ``clock``)
=========================  ===========================================================================
``waiting``, ``delayed``    ``task-received``: ``name``, ``args``, ``kwargs`` (reprs), ``retries``, ``eta``,
                            ``expires``, ``parent_id``, ``root_id``
``active``                  ``task-started``
``completed``               ``task-succeeded``: ``result`` (repr), ``runtime`` (seconds)
``failed``                  ``task-failed``: ``exception`` (``Type('message')``), ``traceback``
``retrying``                ``task-retried``: ``exception``
``cancelled``, ``expired``  ``task-revoked``: ``terminated``, ``expired``, ``signum``
=========================  ===========================================================================

Fields beyond the stream entry come from the job hash, read for all the entries of one read in one pipeline
(:func:`jobs_of`); a job already gone (retention removed it) gives None for them. Other entries (``progress``,
``stalled``, ``promoted``, ``collect``, ``debounced``) have no Celery counterpart and are skipped. The engine does not
record which worker ran a job, so ``hostname`` is the engine's address (``taskora@<host:port>``) for all of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from ..app._publish_compact import celery_name, task_name

#: Engine event name -> Celery event type.
CELERY_TYPES = {"waiting": "task-received", "delayed": "task-received", "active": "task-started",
                "completed": "task-succeeded", "failed": "task-failed", "retrying": "task-retried",
                "cancelled": "task-revoked", "expired": "task-revoked"}  # fmt: skip
#: Engine events whose Celery event carries fields of the job hash; and those fields.
NEEDS_JOB = frozenset({"waiting", "delayed", "completed", "failed"})
JOB_FIELDS = ("data", "attempt", "result", "errorDetail", "processedOn", "finishedOn", "celery.task", "celery.origin",
              "celery.queue", "celery.eta", "celery.expires", "celery.parent_id", "celery.root_id")  # fmt: skip

Job = dict[str, Any] | None
Decode = Callable[[Any], Any]


def engine_hostname(adapter: Any) -> str:
    return f"taskora@{adapter.address}"


def jobs_of(adapter: Any, engine_task: str, entries: Sequence[dict[str, Any]]) -> dict[str, Job]:
    """The job-hash fields of the jobs whose entries need them, in one round trip."""
    ids = sorted({e.get("jobId", "") for e in entries if e.get("event") in NEEDS_JOB})
    return dict(zip(ids, adapter.job_rows(engine_task, ids, JOB_FIELDS), strict=True)) if ids else {}


def celery_event(decode: Decode, engine_task: str, entry_id: str, fields: dict[str, Any], hostname: str,
                 job: Job) -> dict[str, Any] | None:  # fmt: skip
    """The Celery event for one stream entry (``job``: its job's fields, see :func:`jobs_of`), or None."""
    kind = fields.get("event", "")
    type_ = CELERY_TYPES.get(kind)
    if type_ is None:
        return None
    event = {"type": type_, "uuid": fields.get("jobId", ""), "hostname": hostname,
             "timestamp": int(entry_id.partition("-")[0]) / 1000}  # fmt: skip
    event.update(_DETAILS[type_](decode, engine_task, kind, fields, job))
    return event


def _received(decode: Decode, engine_task: str, kind: str, fields: dict[str, Any], job: Job) -> dict[str, Any]:
    if job is None:
        return {"name": celery_name(engine_task), "args": None, "kwargs": None}
    data = _decoded(decode, job.get("data"))
    data = data if isinstance(data, dict) else {}
    return {"name": task_name(job, engine_task) or celery_name(engine_task),
            "args": repr(tuple(data.get("args") or ())), "kwargs": repr(data.get("kwargs") or {}),
            "retries": int(_text(job.get("attempt")) or 1) - 1,
            "eta": _text(job.get("celery.eta")), "expires": _text(job.get("celery.expires")),
            "parent_id": _text(job.get("celery.parent_id")),
            "root_id": _text(job.get("celery.root_id")) or fields.get("jobId")}  # fmt: skip


def _started(decode: Decode, engine_task: str, kind: str, fields: dict[str, Any], job: Job) -> dict[str, Any]:
    return {}


def _succeeded(decode: Decode, engine_task: str, kind: str, fields: dict[str, Any], job: Job) -> dict[str, Any]:
    if job is None:
        return {"result": None, "runtime": None}
    started, finished = _ms(job.get("processedOn")), _ms(job.get("finishedOn"))
    runtime = (finished - started) / 1000 if started is not None and finished is not None else None
    return {"result": repr(_decoded(decode, job.get("result"))), "runtime": runtime}


def _failed(decode: Decode, engine_task: str, kind: str, fields: dict[str, Any], job: Job) -> dict[str, Any]:
    detail = _detail(job)
    return {"exception": _exception_repr(detail, _text(fields.get("error")) or ""),
            "traceback": detail.get("traceback")}  # fmt: skip


def _retried(decode: Decode, engine_task: str, kind: str, fields: dict[str, Any], job: Job) -> dict[str, Any]:
    return {"exception": repr(_text(fields.get("error")) or ""), "traceback": None}


def _revoked(decode: Decode, engine_task: str, kind: str, fields: dict[str, Any], job: Job) -> dict[str, Any]:
    expired = kind == "expired"
    return {"terminated": not expired and bool(_text(fields.get("reason"))), "signum": None, "expired": expired}


_DETAILS: dict[str, Callable[[Decode, str, str, dict[str, Any], Job], dict[str, Any]]] = {
    "task-received": _received, "task-started": _started, "task-succeeded": _succeeded, "task-failed": _failed,
    "task-retried": _retried, "task-revoked": _revoked}  # fmt: skip


def _decoded(decode: Decode, raw: Any) -> Any:
    """A stored payload decoded; its text when the serializer refuses it (a monitor shows what it can)."""
    if raw is None:
        return None
    try:
        return decode(raw)
    except Exception:
        return _text(raw)


def _detail(job: Job) -> dict[str, Any]:
    """The failure's stored detail (type, message, args, traceback), or {} when there is none."""
    raw = _text(job.get("errorDetail")) if job else None
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
