"""Which ``celery.*`` job-hash fields a publish can leave out, and how a reader restores them.

A job hash stays in Redis' compact listpack encoding and every field of it costs bytes per waiting job
(issue #22: a front job stored 12 fields, 424 bytes, against the native job's 7 and 200). Some of those
fields only repeat what the job already has, so ``publish`` leaves them out and every reader treats an
absent field as its value:

- ``celery.root_id`` equal to the job's own id (a call made outside a task is its own root): the worker's
  request and the canvas errback context already read an absent root as the job id;
- ``celery.task`` equal to the Celery name of the engine task the job lives under (``<queue>::<name>``
  twins included): :func:`task_name` reads it back from the engine task name;
- ``celery.queue`` equal to the queue the engine task's name implies: ``<queue>`` for a ``<queue>::<name>``
  twin, else ``celery`` (Celery's own ``task_default_queue``, a constant: the same for every reader whatever
  its settings), see :func:`queue_name`;
- ``celery.ignore_result`` when the call did not pass one and it is what the task itself resolves
  (``Task.resolved("ignore_result")``, True or False): what the worker falls back to when the field is
  absent. Celery's message carries the producer's value; the two differ only for a producer and a worker
  configured with different ``task_ignore_result``/``ignore_result`` for the same task.

The job's data, ``{"args": [...], "kwargs": {...}}``, leaves out an empty ``kwargs`` (:func:`call_data`):
every reader of the envelope takes a missing ``kwargs`` as ``{}``.

Only the single-call publish compacts; jobs written by a canvas keep every field (both read the same).
"""

from __future__ import annotations

from typing import Any

__all__ = ["call_data", "compact_meta", "task_name", "queue_name", "is_front_job"]

#: Fields every job the front publishes carries one of (``origin`` is always written): a job with neither is
#: not the front's (a native dispatch to a Celery task's engine task), and none of its fields is implied.
FRONT_MARKERS = ("origin", "queue")
#: Celery's default ``task_default_queue``: the queue an absent ``celery.queue`` of a non-twin job means.
IMPLIED_QUEUE = "celery"


def celery_name(engine_name: str) -> str:
    """The Celery task name of an engine task (per-queue twins are ``"<queue>::<name>"``, as
    ``_inspect_requests.celery_name``; this module imports nothing of compat: compat/result.py reads through it)."""
    return engine_name.rpartition("::")[2]


def call_data(args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The job data of a call: its arguments, without ``kwargs`` when there are none (12 bytes a job)."""
    return {"args": args, "kwargs": kwargs} if kwargs else {"args": args}


def compact_meta(meta: dict[str, Any], task_id: str, engine_name: str, task_ignores: Any,
                 explicit: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """``meta`` without the fields a reader restores from the job itself (see the module docstring);
    ``task_ignores`` is the task's own ``ignore_result`` as this publish resolved it (None: no task)."""
    if meta.get("root_id") == task_id:
        meta["root_id"] = None
    if meta.get("task") == celery_name(engine_name):
        meta["task"] = None
    if meta.get("queue") == implied_queue(engine_name):
        meta["queue"] = None
    sent_as_task = task_ignores is not None and bool(meta.get("ignore_result")) is task_ignores
    if "ignore_result" not in explicit and sent_as_task:
        meta["ignore_result"] = None
    return meta


def implied_queue(engine_name: str) -> str:
    """The queue an engine task's name implies: the twin's ``<queue>`` of ``<queue>::<name>``, else ``celery``."""
    queue, sep, _ = engine_name.rpartition("::")
    return queue if sep else IMPLIED_QUEUE


def is_front_job(fields: dict[str, Any], prefix: str = "celery.") -> bool:
    """Whether the front published this job (``fields`` read with their ``prefix``, or without: ``ctx.metas``)."""
    return any(f"{prefix}{marker}" in fields for marker in FRONT_MARKERS)


def task_name(fields: dict[str, Any], engine_name: str | None) -> str | None:
    """The Celery task name of a stored job: its ``celery.task`` field, else (a front job that left it out
    as its engine task's) the engine task's Celery name; None for a job the front did not publish."""
    stored = fields.get("celery.task")
    if stored is not None:
        return _text(stored)
    if engine_name and is_front_job(fields):
        return celery_name(engine_name)
    return None


def queue_name(stored: Any, engine_name: str | None, front: bool) -> str | None:
    """The queue a job was sent to: its ``celery.queue`` field (``stored``), else (a front job that left it out)
    the queue its engine task's name implies; None for a job the front did not publish."""
    if stored is not None:
        return _text(stored)
    return implied_queue(engine_name) if front and engine_name else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
