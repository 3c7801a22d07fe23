"""Celery's logger hierarchy (``celery.utils.log``): ``get_task_logger``, ``get_logger``, ``TaskFormatter``.

Celery projects configure logging by logger *name*: handlers on ``celery`` see everything the
framework logs, handlers on ``celery.task`` see every task logger. ``get_task_logger(__name__)``
therefore re-parents the module's logger under ``celery.task`` (keeping its own name), exactly as
Celery does, so existing ``LOGGING`` dicts keep routing task records where they did before.

Task records are formatted with ``%(task_name)s`` and ``%(task_id)s``. Which task is running is
only known to the worker layer, so it registers a getter with :func:`set_current_task_getter`; until
it does (or outside a task) both fields read ``"???"``, as in Celery.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "DEFAULT_PROCESS_LOG_FMT",
    "DEFAULT_TASK_LOG_FMT",
    "RESERVED_LOGGER_NAMES",
    "base_logger",
    "logger",
    "task_logger",
    "worker_logger",
    "get_logger",
    "get_task_logger",
    "set_current_task_getter",
    "current_task_fields",
    "ColorFormatter",
    "TaskFormatter",
    "LoggingProxy",
]

#: Default ``worker_log_format``.
DEFAULT_PROCESS_LOG_FMT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
#: Default ``worker_task_log_format``: the process format plus the running task's name and id.
DEFAULT_TASK_LOG_FMT = "[%(asctime)s: %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(message)s"
#: Names ``get_task_logger`` refuses: re-parenting them would break the hierarchy itself.
RESERVED_LOGGER_NAMES = frozenset({"celery", "celery.task"})
#: Shown for ``%(task_name)s`` / ``%(task_id)s`` outside a task.
UNKNOWN = "???"

#: Root of everything Celery (and this front) logs.
base_logger = logger = logging.getLogger("celery")

_current_task_getter: Callable[[], Any] | None = None


def _descends_from(child: logging.Logger, ancestor: logging.Logger) -> bool:
    """True if ``ancestor`` is ``child`` or one of its parents (guards against parent cycles)."""
    seen: set[int] = set()
    node: logging.Logger | None = child
    while node is not None and id(node) not in seen:
        if node is ancestor:
            return True
        seen.add(id(node))
        node = node.parent
    return False


def _adopt(parent: logging.Logger, child: logging.Logger) -> logging.Logger:
    """Hang ``child`` under ``parent`` unless it already sits somewhere below it."""
    if not _descends_from(child, parent):
        child.parent = parent
    return child


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``name``, kept inside the ``celery`` tree when it hangs below another logger.

    Like Celery: a logger whose parent is the root logger is left alone (a plain module logger keeps
    propagating to root); one whose parent is some other logger outside ``celery`` is moved under
    ``celery``.
    """
    found = logging.getLogger(name)
    if logging.root not in (found, found.parent) and found is not base_logger:
        _adopt(base_logger, found)
    return found


#: Parent of every task logger.
task_logger = get_logger("celery.task")
#: Logger of the worker machinery.
worker_logger = get_logger("celery.worker")


def get_task_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` re-parented under ``celery.task`` (its name is unchanged).

    Raises:
        RuntimeError: ``name`` is ``"celery"`` or ``"celery.task"``.
    """
    if name in RESERVED_LOGGER_NAMES:
        raise RuntimeError(f"Logger name {name!r} is reserved!")
    return _adopt(task_logger, get_logger(name))


def set_current_task_getter(getter: Callable[[], Any] | None) -> Callable[[], Any] | None:
    """Register how to find the task running in this thread; returns the previous getter.

    ``getter()`` returns the current task object (anything with ``.name`` and ``.request.id``, i.e.
    Celery's ``current_task``) or None outside a task. Pass None to unregister. The worker layer calls
    this once at start; a getter that raises is treated as "no task".
    """
    global _current_task_getter
    previous, _current_task_getter = _current_task_getter, getter
    return previous


def current_task_fields() -> tuple[str, str] | None:
    """``(task_name, task_id)`` of the running task, or None when no task is known."""
    getter = _current_task_getter
    if getter is None:
        return None
    try:
        task = getter()
    except Exception:  # a broken hook must never break logging
        return None
    request = getattr(task, "request", None) if task is not None else None
    if request is None:
        return None
    name = getattr(task, "name", None)
    task_id = getattr(request, "id", None)
    return (UNKNOWN if name is None else str(name), UNKNOWN if task_id is None else str(task_id))


#: ANSI colour of a record's whole line by level name (INFO stays uncoloured), as Celery colours them.
LEVEL_COLORS = {"DEBUG": 34, "WARNING": 33, "ERROR": 31, "CRITICAL": 35}
RESET_SEQ = "\033[0m"


class ColorFormatter(logging.Formatter):
    """Formatter that colours each line by severity when ``use_color`` is true (``worker_log_color``)."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, use_color: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(fmt, datefmt, **kwargs)
        self.use_color = use_color

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        color = LEVEL_COLORS.get(record.levelname)
        if self.use_color and color is not None:
            return f"\033[1;{color}m{text}{RESET_SEQ}"
        return text


class TaskFormatter(ColorFormatter):
    """Formatter that fills ``%(task_name)s`` and ``%(task_id)s`` from the running task.

    Values the record already carries (``extra={"task_id": …}``) are overwritten while a task runs,
    and kept otherwise; missing ones become ``"???"``. ``use_color`` colours lines by severity.
    """

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        use_color: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(fmt or DEFAULT_TASK_LOG_FMT, datefmt, use_color, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        fields = current_task_fields()
        if fields is not None:
            record.task_name, record.task_id = fields
        else:
            record.__dict__.setdefault("task_name", UNKNOWN)
            record.__dict__.setdefault("task_id", UNKNOWN)
        return super().format(record)


class LoggingProxy:
    """A write-only file object that forwards each written line to a logger.

    The worker installs it as ``sys.stdout``/``sys.stderr`` when ``worker_redirect_stdouts`` is on,
    so ``print()`` in tasks ends up in the log at ``worker_redirect_stdouts_level``.
    """

    mode = "w"
    name = None
    encoding = None
    _local = threading.local()

    def __init__(self, target: logging.Logger, loglevel: int | str | None = None) -> None:
        self.logger = target
        self.loglevel = log_level(loglevel if loglevel is not None else (target.level or logging.WARNING))
        self.closed = False

    def write(self, data: str) -> int:
        """Log ``data`` (stripped; blank writes are dropped) and return its length like a file."""
        if getattr(self._local, "busy", False):
            return 0  # a handler writing back to this stream: stop the recursion
        text = data.strip()
        if text and not self.closed:
            self._local.busy = True
            try:
                self.logger.log(self.loglevel, text)
            finally:
                self._local.busy = False
        return len(data)

    def writelines(self, lines: Iterable[str]) -> None:
        """Write each string of ``lines``."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Stop forwarding; later writes are dropped."""
        self.closed = True

    def isatty(self) -> bool:
        """Never a terminal."""
        return False

    def fileno(self) -> None:
        """No file descriptor behind it."""
        return None


def log_level(level: int | str) -> int:
    """Accept ``"warning"``/``"WARNING"`` or a number."""
    if isinstance(level, str):
        value = logging.getLevelName(level.upper())
        if not isinstance(value, int):
            raise ValueError(f"unknown log level {level!r}")
        return value
    return int(level)
