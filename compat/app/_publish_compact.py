"""Which ``celery.*`` job-hash fields a publish can leave out, and how a reader restores them.

A job hash stays in Redis' compact listpack encoding and every field of it costs bytes per waiting job
(issue #22: a front job stored 12 fields, 424 bytes, against the native job's 7 and 200). Some of those
fields only repeat what the job already has, so ``publish`` leaves them out and every reader treats an
absent field as its value:

- ``celery.root_id`` equal to the job's own id (a call made outside a task is its own root): the worker's
  request and the canvas errback context already read an absent root as the job id;
- ``celery.task`` equal to the Celery name of the engine task the job lives under (``<queue>::<name>``
  twins included): :func:`task_name` reads it back from the engine task name;
- ``celery.ignore_result`` False when the call did not pass one and the task itself resolves False
  (``Task.resolved("ignore_result")``): what the worker falls back to when the field is absent. Celery's
  message carries the producer's value; the two differ only for a producer and a worker configured with
  different ``task_ignore_result``/``ignore_result`` for the same task.

Only the single-call publish compacts; jobs written by a canvas keep every field (both read the same).
"""

from __future__ import annotations

from typing import Any

__all__ = ["compact_meta", "task_name", "FRONT_MARKER"]

#: A field every job the front publishes carries: a job with it and without ``celery.task`` is a front job
#: whose name is its engine task's (a native job has neither, and has no Celery name).
FRONT_MARKER = "celery.queue"


def celery_name(engine_name: str) -> str:
    """The Celery task name of an engine task (per-queue twins are ``"<queue>::<name>"``, as
    ``_inspect_requests.celery_name``; this module imports nothing of compat: compat/result.py reads through it)."""
    return engine_name.rpartition("::")[2]


def compact_meta(meta: dict[str, Any], task_id: str, engine_name: str, task_ignores: Any,
                 explicit: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """``meta`` without the fields a reader restores from the job itself (see the module docstring);
    ``task_ignores`` is the task's own ``ignore_result`` as this publish resolved it (None: no task)."""
    if meta.get("root_id") == task_id:
        meta["root_id"] = None
    if meta.get("task") == celery_name(engine_name):
        meta["task"] = None
    if "ignore_result" not in explicit and not meta.get("ignore_result") and task_ignores is False:
        meta["ignore_result"] = None
    return meta


def task_name(fields: dict[str, Any], engine_name: str | None) -> str | None:
    """The Celery task name of a stored job: its ``celery.task`` field, else (a front job that left it out
    as its engine task's) the engine task's Celery name; None for a job the front did not publish."""
    stored = fields.get("celery.task")
    if stored is not None:
        return stored.decode() if isinstance(stored, bytes) else str(stored)
    if FRONT_MARKER in fields and engine_name:
        return celery_name(engine_name)
    return None
