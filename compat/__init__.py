"""``taskora.compat``: Celery's API on taskora's engine. Rewrite ``celery`` imports to ``taskora.compat``.

``from taskora.compat import Celery, shared_task, chain`` works as ``from celery import ...`` does;
``import taskora.compat as celery`` too.
"""

from __future__ import annotations

import uuid as _uuid

from . import _canvas_setup, states  # noqa: F401 - _canvas_setup connects the canvas to the modules below it
from ._state import current_app, current_task
from ._version import SERIES, VERSION, __version__  # noqa: F401 - SERIES: celery.SERIES
from .app import shared_task
from .app.base import Celery
from .app.task import Task
from .canvas import Signature, chain, chord, chunks, group, maybe_signature, signature, subtask, xmap, xstarmap
from .worker import inspect_commands as _inspect_commands  # noqa: F401 - registers Celery's inspect commands


def uuid() -> str:
    """A new task id (``celery.uuid``)."""
    return str(_uuid.uuid4())


__all__ = [
    "Celery", "shared_task", "Task", "chain", "group", "chord", "signature", "current_app", "current_task",
    "chunks", "xmap", "xstarmap", "maybe_signature", "Signature", "subtask", "uuid", "states",
    "__version__", "VERSION",
]  # fmt: skip
