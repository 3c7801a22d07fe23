"""How a Celery worker process sets up logging: Celery's ``app.log.setup`` on top of the CLI's first setup.

``taskora worker`` configures a plain root handler before it imports the project (so import errors
are logged). Once it knows the app is a Celery one, :func:`setup_worker_logging` replaces that
handler the way ``celery worker`` configures logging, honouring the ``worker_*log*`` settings:

* ``setup_logging`` is sent first; a project that connected a receiver configures logging itself,
  and the worker adds no handler at all (not even the CLI's first one).
* Otherwise, with ``worker_hijack_root_logger`` (default) the root logger's handlers are replaced by
  one handler (``--logfile`` or stderr) formatted with ``worker_log_format``; without it, handlers
  the project installed are kept. ``celery.task`` gets its own handler formatted with
  ``worker_task_log_format`` (``task_name[task_id]``) and stops propagating, as in Celery.
  ``after_setup_logger`` and ``after_setup_task_logger`` follow.
* ``worker_log_color`` colours lines (default: only when stderr is a terminal and no log file).
* ``worker_redirect_stdouts`` sends ``print()`` to the ``celery.redirected`` logger at
  ``worker_redirect_stdouts_level``; :func:`redirect_stdouts` is called in each process that runs
  tasks, after the banner, so the banner stays on the terminal as Celery's does.
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import WatchedFileHandler
from typing import Any

from taskora.cli._process import CLI_HANDLER_NAME

from .. import signals
from ..utils.log import ColorFormatter, LoggingProxy, TaskFormatter, get_logger, log_level
from ._trace import LOGGED_MARK

__all__ = ["LogSetup", "redirect_stdouts", "setup_worker_logging"]

#: Logger of the native worker's own per-job lines; a Celery worker logs Celery's lines instead.
NATIVE_JOB_LOGGER = "taskora.worker.jobs"
#: Logger of the native worker's failure lines (``job … failed after …``).
NATIVE_WORKER_LOGGER = "taskora.worker"
#: Loggers a hijacking setup clears, as Celery does (besides the root logger).
HIJACKED_LOGGERS = ("celery", "celery.task", "celery.redirected")


class LogSetup:
    """What the worker logs with: level, file, formats and colour, read from the CLI and ``app.conf``."""

    def __init__(self, conf: Any, loglevel: int | str | None = None, logfile: str | None = None) -> None:
        cli = cli_handler()
        self.loglevel = log_level(loglevel) if loglevel is not None else logging.getLogger().level or logging.WARNING
        self.logfile = logfile if logfile is not None else getattr(cli, "baseFilename", None)
        self.format = conf.get("worker_log_format")
        self.task_format = conf.get("worker_task_log_format")
        self.datefmt = conf.get("worker_log_datefmt")
        self.task_datefmt = conf.get("worker_task_log_datefmt")
        self.hijack = bool(conf.get("worker_hijack_root_logger", True))
        self.colorize = supports_color(conf.get("worker_log_color"), self.logfile)

    def describe(self) -> dict[str, Any]:
        """The keyword arguments Celery's logging signals carry."""
        return {"loglevel": self.loglevel, "logfile": self.logfile, "format": self.format, "colorize": self.colorize}

    def handler(self, fmt: str, datefmt: str | None, formatter: type[ColorFormatter]) -> logging.Handler:
        """A handler writing to the log file (reopened when rotated away) or to the real stderr."""
        target: logging.Handler
        if self.logfile:
            target = WatchedFileHandler(self.logfile, encoding="utf-8")
        else:
            target = logging.StreamHandler(sys.__stderr__)
        target.setFormatter(formatter(fmt, datefmt=datefmt, use_color=self.colorize))
        return target


def cli_handler() -> logging.Handler | None:
    """The handler ``taskora worker`` put on the root logger before the project was imported."""
    return next((h for h in logging.getLogger().handlers if h.get_name() == CLI_HANDLER_NAME), None)


def supports_color(setting: Any, logfile: str | None) -> bool:
    """``worker_log_color`` as Celery reads it: False turns colour off; True or unset colour only a terminal
    (stderr is a tty) when there is no log file."""
    if setting is None or setting:
        return logfile is None and _isatty(sys.__stderr__)
    return False


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def setup_worker_logging(conf: Any, loglevel: int | str | None = None, logfile: str | None = None) -> bool:
    """Configure this process's logging like ``celery worker``; True when a ``setup_logging`` receiver did it.

    Raises:
        Exception: what a ``setup_logging`` receiver raised (the worker must not start half configured).
    """
    setup = LogSetup(conf, loglevel, logfile)
    first = cli_handler()
    responses = signals.setup_logging.send(sender=None, **setup.describe())
    for _receiver, response in responses:
        if isinstance(response, Exception):
            raise response
    root = logging.getLogger()
    if first is not None:
        root.removeHandler(first)
        first.close()
    _quiet_native_duplicates()
    logging.captureWarnings(True)  # warnings reach the log (``py.warnings``), as in a Celery worker
    if responses:
        return True
    _configure_root(root, setup)
    signals.after_setup_logger.send(sender=None, logger=root, **setup.describe())
    task_logger = _configure_task_logger(setup)
    signals.after_setup_task_logger.send(sender=None, logger=task_logger,
                                         **{**setup.describe(), "format": setup.task_format})
    return False


class SkipTraceLogged(logging.Filter):
    """Drops the native worker's failure record of an exception the Celery trace already logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not getattr(error, LOGGED_MARK, False)


def _quiet_native_duplicates() -> None:
    """Celery's lines replace the native per-job lines; failures the trace did not see stay logged."""
    logging.getLogger(NATIVE_JOB_LOGGER).setLevel(logging.WARNING)
    native = logging.getLogger(NATIVE_WORKER_LOGGER)
    if not any(isinstance(f, SkipTraceLogged) for f in native.filters):
        native.addFilter(SkipTraceLogged())


def _has_handler(logger: logging.Logger) -> bool:
    return any(not isinstance(h, logging.NullHandler) for h in logger.handlers)


def _configure_root(root: logging.Logger, setup: LogSetup) -> None:
    if setup.hijack:
        root.handlers = []
        for name in HIJACKED_LOGGERS:
            logging.getLogger(name).handlers = []
    if not _has_handler(root):
        root.addHandler(setup.handler(setup.format, setup.datefmt, ColorFormatter))
    root.setLevel(setup.loglevel)


def _configure_task_logger(setup: LogSetup) -> logging.Logger:
    task_logger = get_logger("celery.task")
    if not _has_handler(task_logger):
        task_logger.addHandler(setup.handler(setup.task_format, setup.task_datefmt, TaskFormatter))
    task_logger.setLevel(setup.loglevel)
    task_logger.propagate = False
    return task_logger


def redirect_stdouts(conf: Any) -> None:
    """``worker_redirect_stdouts``: ``print()`` (stdout and stderr) becomes ``celery.redirected`` records."""
    if not conf.get("worker_redirect_stdouts", True):
        return
    level = log_level(conf.get("worker_redirect_stdouts_level") or "WARNING")
    target = get_logger("celery.redirected")
    sys.stdout = LoggingProxy(target, level)
    sys.stderr = LoggingProxy(target, level)
