"""``AsyncResult.children``, ``iterdeps()`` and ``collect()`` as Celery's (celery/result.py).

A task that sends tasks while it runs (``delay``/``apply_async``/``send_task`` inside the task: Celery's "trail")
has them as its ``children``: each call is noted on the running request (``request.children``, as Celery's
``Task.apply_async`` does), and when the task ends the worker stores the list beside the job's Celery state
record in the job's progress field (``CHILDREN_KEY``), so any process reads it back. ``children`` is None while
the task has not finished (Celery's result meta has none yet) and a list once it has. A group sent from a task
counts as its members, each a child (Celery adds the one GroupResult).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from ._state import get_current_task
from .exceptions import IncompleteStream

#: Key of the children list in a job's progress record (beside ``CELERY_STATE_KEY``).
CHILDREN_KEY = "__children__"


def note_child(result: Any) -> None:
    """Called for each task sent: a running task (not one called directly) records it as its child."""
    current = get_current_task()
    request = current.request if current is not None else None
    if request is None or request.called_directly or request.id is None or request.id == result.id:
        return
    children = getattr(request, "children", None)
    if isinstance(children, list):
        children.append(result)


def store_children(app: Any, ctx: Any, request: Any) -> None:
    """At the end of a worker-run task with children: keep ``[[id, name], ...]`` in its progress record (merged
    with a Celery state record already there, so ``update_state``'s last meta is kept)."""
    children = getattr(request, "children", None) if request is not None else None
    if not children:
        return
    native = app.__taskora_app__
    raw = native.adapter.get_fields(ctx.task, ctx.id, ["progress"]).get("progress")
    record = _loads(native.serializer, raw)
    record = dict(record) if isinstance(record, dict) else {}
    record[CHILDREN_KEY] = [[child.id, getattr(child, "task_name", None)] for child in children]
    ctx.progress(record)


def _loads(serializer: Any, raw: Any) -> Any:
    if raw is None:
        return None
    try:
        return getattr(serializer, "loads_result", serializer.loads)(raw)
    except Exception:  # an unreadable record is replaced by one holding the children
        return None


def children_of(result: Any, job: dict[str, Any] | None, ready: bool) -> list[Any] | None:
    """The AsyncResults of the tasks ``result``'s task sent; None until it is ready (Celery's)."""
    if not ready:
        return None
    raw = job.get("progress") if job else None
    record = result._decode(raw) if raw is not None else None
    entries = record.get(CHILDREN_KEY) if isinstance(record, dict) else None
    return [type(result)(child_id, app=result.app, task_name=name) for child_id, name in entries or []]


def iterdeps(result: Any, intermediate: bool = False) -> Iterator[tuple[Any, Any]]:
    """``(parent, node)`` breadth first over the tree of results; a node not ready when its turn to expand comes
    raises IncompleteStream unless ``intermediate`` (Celery's)."""
    stack: deque[tuple[Any, Any]] = deque([(None, result)])
    while stack:
        parent, node = stack.popleft()
        yield parent, node
        if node.ready():
            stack.extend((node, child) for child in node.children or [])
        elif not intermediate:
            raise IncompleteStream()


def collect(result: Any, intermediate: bool = False, **kwargs: Any) -> Iterator[tuple[Any, Any]]:
    """``(result, value)`` for each result in the tree, waiting for each in turn (``kwargs`` go to ``get``)."""
    for _parent, node in iterdeps(result, intermediate=intermediate):
        yield node, node.get(**kwargs)
