"""The root result class and the "never block inside a task" guard shared by every result type."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._state import get_current_task

__all__ = ["ResultBase", "allow_join_result", "denied_join_result", "assert_will_not_block", "task_join_will_block"]

#: Whether ``get()`` here would block a worker's pool: Celery's ``task_join_will_block``. A process flag, set in
#: worker processes (``taskora worker``; not the test process of an embedded worker, as in Celery), and a
#: per-context override: ``denied_join_result`` (an eager ``apply_async``/``delay`` runs under it) and
#: ``allow_join_result`` (the escape hatch).
_process_join_will_block = False
_join_override: contextvars.ContextVar[bool | None] = contextvars.ContextVar("taskora_compat_join", default=None)


def _set_task_join_will_block(blocks: bool) -> None:
    """Mark this process as one whose tasks must not wait for results (a worker process), or not."""
    global _process_join_will_block
    _process_join_will_block = bool(blocks)


def task_join_will_block() -> bool:
    override = _join_override.get()
    return _process_join_will_block if override is None else override


def _in_a_task() -> bool:
    """A task runs in this context (not merely called as a function): the worker's own waits stay allowed."""
    task = get_current_task()
    return task is not None and not task.request.called_directly


class ResultBase:
    """Base of every result class (``isinstance`` checks in user code)."""

    parent: Any = None


@contextmanager
def allow_join_result() -> Iterator[None]:
    """Allow ``result.get()`` inside a task for the block (Celery's escape hatch; deadlock-prone)."""
    token = _join_override.set(False)
    try:
        yield
    finally:
        _join_override.reset(token)


@contextmanager
def denied_join_result() -> Iterator[None]:
    token = _join_override.set(True)
    try:
        yield
    finally:
        _join_override.reset(token)


def assert_will_not_block() -> None:
    """Celery refuses ``get()`` in a worker process and inside a task run by an eager ``apply_async``: waiting
    there can deadlock a pool. A plain ``apply()`` in a process that is no worker may wait (Celery's rule)."""
    override = _join_override.get()
    if override is False:
        return
    if override or (_process_join_will_block and _in_a_task()):
        raise RuntimeError("Never call result.get() within a task!\nSee https://docs.celeryq.dev/en/latest/"
                           "userguide/tasks.html#avoid-launching-synchronous-subtasks")
