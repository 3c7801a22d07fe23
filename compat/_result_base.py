"""The root result class and the "never block inside a task" guard shared by every result type."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._state import get_current_task

__all__ = ["ResultBase", "allow_join_result", "denied_join_result", "assert_will_not_block"]

_join_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar("taskora_compat_join", default=False)


class ResultBase:
    """Base of every result class (``isinstance`` checks in user code)."""

    parent: Any = None


@contextmanager
def allow_join_result() -> Iterator[None]:
    """Allow ``result.get()`` inside a task for the block (Celery's escape hatch; deadlock-prone)."""
    token = _join_allowed.set(True)
    try:
        yield
    finally:
        _join_allowed.reset(token)


@contextmanager
def denied_join_result() -> Iterator[None]:
    token = _join_allowed.set(False)
    try:
        yield
    finally:
        _join_allowed.reset(token)


def assert_will_not_block() -> None:
    """Celery refuses ``get()`` inside a running task (worker or eager): it can deadlock a pool."""
    task = get_current_task()
    if task is not None and not task.request.called_directly and not _join_allowed.get():
        raise RuntimeError("Never call result.get() within a task!\nSee https://docs.celeryq.dev/en/latest/"
                           "userguide/tasks.html#avoid-launching-synchronous-subtasks")
