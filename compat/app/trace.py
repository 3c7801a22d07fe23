"""``celery.app.trace``: the ``Task …`` log line formats and the context each line carries.

Celery logs these lines with a mapping as the argument and the same mapping as ``record.data``, so a
handler or a test can read a line's task id, name and argument reprs without parsing the text (Celery's
own suite does, from ``caplog``). The formats are Celery's, word for word.
"""

from __future__ import annotations

import logging
import reprlib
from typing import Any

__all__ = ["LOG_RECEIVED", "LOG_SUCCESS", "LOG_FAILURE", "LOG_INTERNAL_ERROR", "LOG_IGNORED", "LOG_REJECTED",
           "LOG_RETRY", "log_context", "log_line", "reset_worker_optimizations", "setup_worker_optimizations",
           "task_name"]

LOG_RECEIVED = "Task %(name)s[%(id)s] received"
LOG_SUCCESS = "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s"
LOG_FAILURE = "Task %(name)s[%(id)s] %(description)s: %(exc)s"
LOG_INTERNAL_ERROR = "Task %(name)s[%(id)s] %(description)s: %(exc)s"
LOG_IGNORED = "Task %(name)s[%(id)s] %(description)s"
LOG_REJECTED = "Task %(name)s[%(id)s] %(exc)s"
LOG_RETRY = "Task %(name)s[%(id)s] retry: %(exc)s"


def task_name(task: Any, request: Any) -> str:
    """The name the log lines show: the request's ``shadow`` name when set, as Celery's ``get_task_name``."""
    return getattr(request, "shadow", None) or task.name


def safe_repr(value: Any) -> str:
    """``repr(value)``, shortened by :mod:`reprlib` when the full one raises."""
    try:
        return repr(value)
    except Exception:
        try:
            return reprlib.repr(value)
        except Exception:
            return f"<unrepresentable {type(value).__name__}>"


def log_context(task: Any, request: Any, **fields: Any) -> dict[str, Any]:
    """What a ``Task …`` line says about its request: id, name and the argument reprs the client chose
    (``argsrepr``/``kwargsrepr``, e.g. to hide secrets), else the arguments' own reprs."""
    args = getattr(request, "argsrepr", None) or safe_repr(getattr(request, "args", None) or [])
    kwargs = getattr(request, "kwargsrepr", None) or safe_repr(getattr(request, "kwargs", None) or {})
    return {"id": request.id, "name": task_name(task, request), "args": args, "kwargs": kwargs, **fields}


def log_line(logger: logging.Logger, level: int, fmt: str, context: dict[str, Any], exc_info: Any = None) -> None:
    """Log ``fmt % context`` with the context also as ``record.data`` (Celery's ``extra={'data': …}``)."""
    if logger.isEnabledFor(level):
        logger.log(level, fmt, context, exc_info=exc_info, extra={"data": context})


def setup_worker_optimizations(app: Any, hostname: str | None = None) -> None:
    """What building a worker does to process state: ``app`` becomes the current and default app, and its
    tasks may not block on results (Celery's ``task_join_will_block``)."""
    from .._result_base import _set_task_join_will_block

    app.set_current()
    app.set_default()
    _set_task_join_will_block(True)


def reset_worker_optimizations(app: Any = None) -> None:
    """Undo :func:`setup_worker_optimizations` (a test that built a worker in its own process cleans up):
    ``app`` stops being the current/default app and waiting on results is allowed again."""
    from .. import _state
    from .._result_base import _set_task_join_will_block

    _set_task_join_will_block(False)
    if app is not None:
        _state.release_app(app)
