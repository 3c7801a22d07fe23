"""Process chores shared by ``worker`` and ``beat``: logging, pidfile, detaching, hostnames."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys

import click

from ._output import CliError

#: Accepted ``-l`` values (any case), Celery's names included.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL")
LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
#: Name of the root handler set up here, so a front-end (compat) can replace it with its own setup.
CLI_HANDLER_NAME = "taskora.cli"


def setup_logging(level: str, logfile: str | None) -> None:
    """Root logging at ``level`` to stderr, or to ``logfile``."""
    name = level.upper()
    numeric = {"WARN": logging.WARNING, "FATAL": logging.CRITICAL}.get(name, getattr(logging, name, None))
    if not isinstance(numeric, int):
        raise click.BadParameter(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}",
                                 param_hint="-l/--loglevel")
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.set_name(CLI_HANDLER_NAME)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)


def expand_hostname(template: str, index: int | None = None) -> str:
    """Celery's node name expansions: %h host.domain, %n host, %d domain, %i pool index, %% a percent."""
    full = socket.gethostname()
    host, _, domain = full.partition(".")
    values = {"h": full, "n": host, "d": domain, "i": str(index or 0), "I": f"-{index}" if index else "", "%": "%"}
    return re.sub(r"%([hndiI%])", lambda m: values[m.group(1)], template)


class PidFile:
    """``--pidfile``: refuses to start when another live process holds it; removed at exit."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def acquire(self) -> None:
        if not self.path:
            return
        other = self._read()
        if other is not None and other != os.getpid() and _alive(other):
            raise CliError(f"pidfile {self.path} belongs to running process {other}")
        with open(self.path, "w") as fh:
            fh.write(f"{os.getpid()}\n")

    def _read(self) -> int | None:
        try:
            with open(self.path or "") as fh:
                return int(fh.read().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.path and self._read() == os.getpid():
            os.unlink(self.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def detach(logfile: str | None) -> None:
    """``--detach``: double fork into the background, stdio to /dev/null (logs go to ``--logfile``)."""
    if not logfile:
        raise CliError("--detach needs --logfile (a detached worker has no terminal to log to)")
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
