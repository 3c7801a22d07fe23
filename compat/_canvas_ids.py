"""``root_id``/``parent_id`` of the tasks of a chain or chord, as Celery's workers see them in ``self.request``.

Celery threads ids through a canvas when it is sent: every task has the same ``root_id`` (the task
that sent it, or else the canvas's first task) and each step's ``parent_id`` is the task before it:
the sending task for the first step, the previous step's task, and for the step after a group or a
chord header one of its members (Celery's body is started by the header task that finishes last;
taskora names the last member).
"""

from __future__ import annotations

import uuid
from typing import Any

from .app import _execute

__all__ = ["lazy_chord_result_id", "thread_ids", "unalias"]


def thread_ids(steps: list[Any]) -> None:
    """Set ``root_id`` and ``parent_id`` on each task of the chain ``steps`` (cloned signatures), unless set."""
    first = _first_task(steps)
    if first is None:
        return
    ids = _execute.parent_ids(_task_id(first))
    parent = ids["parent_id"]
    for step in steps:
        parent = _thread(step, ids["root_id"], parent)


def _thread(sig: Any, root: str, parent: str | None) -> str | None:
    """Give ``sig``'s tasks their ids; returns the id the next step names as its parent."""
    kind = sig.get("subtask_type")
    if kind == "chain":
        for step in sig.tasks:
            parent = _thread(step, root, parent)
        return parent
    if kind == "group":
        return _thread_members(sig.tasks, root, parent)
    if kind == "chord":
        last = _thread_members(sig.tasks, root, parent)
        return _thread(sig.body, root, last) if sig.body is not None else last
    sig.options.setdefault("root_id", root)
    if parent is not None:
        sig.options.setdefault("parent_id", parent)
    return _task_id(sig)


def _thread_members(members: list[Any], root: str, parent: str | None) -> str | None:
    """Each member gets ``parent``; the step after them names the last member."""
    last = parent
    for member in members:
        last = _thread(member, root, parent)
    return last


def _first_task(steps: list[Any]) -> Any:
    """The first plain task signature of ``steps`` (None when there is none)."""
    for step in steps:
        kind = step.get("subtask_type")
        if kind not in ("chain", "group", "chord"):
            return step
        found = _first_task(step.tasks)
        if found is not None:
            return found
    return None


def _task_id(sig: Any) -> str:
    """The signature's task id, assigned now when it has none (``_native`` keeps it)."""
    options = sig.options
    if not options.get("task_id"):
        options["task_id"] = str(uuid.uuid4())
    return str(options["task_id"])


def unalias(sigs: list[Any]) -> list[Any]:
    """``sigs`` with every repeated signature object replaced by a copy without a task id.

    ``group((add.si(1),) * 3)`` holds one object three times; Celery sends three tasks, so each
    occurrence after the first becomes its own signature (else all three would share one task id).
    Nested lists (a chain's or group's tasks, a chord's header and body) are rewritten in place.
    """
    seen: set[int] = set()
    return [_distinct(sig, seen) for sig in sigs]


def _distinct(sig: Any, seen: set[int]) -> Any:
    if id(sig) in seen:
        sig = sig.clone()
        sig.options.pop("task_id", None)
    seen.add(id(sig))
    kind, kwargs = sig.get("subtask_type"), sig.get("kwargs")
    if kind in ("chain", "group"):
        kwargs["tasks"] = [_distinct(task, seen) for task in kwargs["tasks"]]
    elif kind == "chord":
        kwargs["header"] = [_distinct(task, seen) for task in kwargs["header"]]
        if kwargs.get("body") is not None:
            kwargs["body"] = _distinct(kwargs["body"], seen)
    return sig


def lazy_chord_result_id(body: Any) -> str:
    """The id whose result a chord's caller gets: the body's, or its last step's when the body is a chain."""
    steps = getattr(body, "tasks", None) if body.get("subtask_type") == "chain" else None
    target = steps[-1] if steps else body
    return target.options.setdefault("task_id", str(uuid.uuid4()))
