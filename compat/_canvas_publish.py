"""``before_task_publish`` / ``after_task_publish`` for the tasks a canvas sends from the caller.

Celery publishes a canvas's first tasks (a chain's first step, every member of a group or chord header)
from the process that calls ``apply_async``; the later steps are published by the workers. taskora sends
a canvas to the engine as one workflow, whose roots are enqueued by ``dispatch_workflow``; this module
announces those roots the way the single-task publish path does (``app/_publish.py``), so receivers see
one ``before_task_publish`` and one ``after_task_publish`` per task the caller sends (test_group_chains.py's
``test_large_group_pipeline`` counts them and their body size). Headers a receiver adds do not travel
with a canvas's jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ._canvas_ids import _task_id
from ._publish_listeners import publish_listened
from ._stamping import stamps_as_headers
from .signals import after_task_publish, before_task_publish

__all__ = ["announcing"]


def root_tasks(sig: Any, members: Callable[[Any], list[Any]]) -> list[Any]:
    """The plain task signatures the caller sends first: a chain's first step's, a group's or chord header's
    members' (a chord with an empty header: its body's). ``members`` unrolls a group as the canvas does."""
    kind = sig.get("subtask_type")
    if kind == "chain":
        return root_tasks(sig.tasks[0], members) if sig.tasks else []
    if kind in ("group", "chord"):
        found = [task for member in members(sig) for task in root_tasks(member, members)]
        if not found and kind == "chord" and sig.body is not None:
            return root_tasks(sig.body, members)
        return found
    return [sig]


def _message(sig: Any, app: Any) -> dict[str, Any]:
    """The parts of a Celery protocol 2 message a publish receiver gets."""
    options, task_id = sig.options, _task_id(sig)  # the id _native keeps
    body = (list(sig.args), dict(sig.kwargs),
            {"callbacks": options.get("link"), "errbacks": options.get("link_error"), "chain": None, "chord": None})
    headers = {"lang": "py", "task": sig.task, "id": task_id, "root_id": options.get("root_id") or task_id,
               "parent_id": options.get("parent_id"), "retries": 0, "stamped_headers": [], "stamps": {},
               **stamps_as_headers(options), **(options.get("headers") or {})}
    queue = options.get("queue") or app.conf.task_default_queue
    return {"sender": sig.task, "body": body, "exchange": "", "routing_key": getattr(queue, "name", queue),
            "headers": headers}


@contextmanager
def announcing(canvas: Any, app: Any, members: Callable[[Any], list[Any]]) -> Iterator[None]:
    """Send ``before_task_publish`` for each root task of ``canvas``, run the dispatch, then
    ``after_task_publish`` for each (not when the dispatch raised: nothing was published)."""
    roots = root_tasks(canvas, members)
    listened = publish_listened(*{sig.task for sig in roots})  # each task name checked once
    messages = [_message(sig, app) for sig in roots] if listened else []  # only for receivers
    for message in messages:
        before_task_publish.send(**message, properties={"correlation_id": message["headers"]["id"]}, declare=[],
                                 retry_policy=None)
    yield
    for message in messages:
        after_task_publish.send(**message)
