"""Process chores shared by ``worker`` and ``beat``: logging, pidfile, detaching, hostnames."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
from typing import Any

import click

from ._output import CliError
from ._privileges import drop_privileges

#: Accepted ``-l`` values (any case), Celery's names included.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL")
LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
#: Name of the root handler set up here, so a front-end (compat) can replace it with its own setup.
CLI_HANDLER_NAME = "taskora.cli"


def setup_logging(level: str, logfile: str | None) -> None:
    """Root logging at ``level`` to stderr, or to ``logfile``.

    Handlers the project added to the root logger when its app module was imported are kept (the module is
    imported first, to name the node): a Celery app's worker then decides about them as Celery does
    (``worker_hijack_root_logger``). Only a handler this function installed before is replaced."""
    name = level.upper()
    numeric = {"WARN": logging.WARNING, "FATAL": logging.CRITICAL}.get(name, getattr(logging, name, None))
    if not isinstance(numeric, int):
        raise click.BadParameter(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}",
                                 param_hint="-l/--loglevel")
    handler: logging.Handler = logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.set_name(CLI_HANDLER_NAME)
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != CLI_HANDLER_NAME] + [handler]
    root.setLevel(numeric)


def expand_hostname(template: str, index: int | None = None) -> str:
    """Celery's node name expansions: %h host.domain, %n host, %d domain, %i pool index, %% a percent."""
    full = socket.gethostname()
    host, _, domain = full.partition(".")
    values = {"h": full, "n": host, "d": domain, "i": str(index or 0), "I": f"-{index}" if index else "", "%": "%"}
    return re.sub(r"%([hndiI%])", lambda m: values[m.group(1)], template)


def expand_node_path(template: str | None, nodename: str) -> str | None:
    """Celery's expansions in ``--pidfile``/``--logfile``: %n node name, %h node host, %d domain, %i/%I index."""
    if not template:
        return template
    name, _, host = nodename.rpartition("@")
    values = {"n": name or host, "h": host, "d": host.partition(".")[2], "i": "0", "I": "", "%": "%"}
    return re.sub(r"%([nhdiI%])", lambda m: values[m.group(1)], template)


def parse_umask(value: str) -> int:
    """``--umask 0o22``, ``022`` or ``18``: octal unless plainly decimal without a leading zero, as Celery reads it."""
    try:
        return int(value, 8) if value.startswith("0") else int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a umask (e.g. 022)", param_hint="--umask") from None


#: Celery's exit code when its pidfile is held (EX_CANTCREAT).
EXIT_PIDFILE_HELD = 73


class PidFile:
    """``--pidfile``: refuses to start when another live process holds it (a stale one is replaced); removed
    at exit."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def check(self) -> None:
        """Fail now, while there is still a terminal to say so, when a live process holds the pidfile."""
        other = self._read() if self.path else None
        if other is not None and other != os.getpid() and _alive(other):
            raise CliError(f"Pidfile ({self.path}) already exists. Seems we're already running? (pid: {other})",
                           exit_code=EXIT_PIDFILE_HELD)

    def acquire(self) -> None:
        """Create the file exclusively (two workers starting at once cannot both hold it); a stale one, whose
        process is gone, is replaced."""
        if not self.path:
            return
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self.check()  # raises while a live process holds it
                self._remove_stale()
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n")
            return
        raise CliError(f"Pidfile ({self.path}) keeps being recreated by another process", exit_code=EXIT_PIDFILE_HELD)

    def _remove_stale(self) -> None:
        try:
            os.unlink(self.path or "")
        except FileNotFoundError:
            pass

    def _read(self) -> int | None:
        try:
            with open(self.path or "") as fh:
                return int(fh.read().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.path and self._read() == os.getpid():
            try:
                os.unlink(self.path)
            except OSError as exc:  # e.g. its directory is not writable after --uid
                logging.getLogger("taskora").warning("could not remove pidfile %s: %s", self.path, exc)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def detach() -> None:
    """``-D/--detach``: double fork into the background, stdio to /dev/null (logs go to ``--logfile``;
    without one they are lost, as with Celery)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def prepare_process(opts: dict[str, Any], nodename: str) -> PidFile:
    """Celery's order: drop privileges first, so the log and the pidfile belong to the user the process runs
    as; then log; and check the pidfile while there is still a terminal to report a clash on."""
    drop_privileges(opts["uid"], opts["gid"])
    if opts["umask"]:
        os.umask(parse_umask(opts["umask"]))
    setup_logging(opts["loglevel"], expand_node_path(opts["logfile"], nodename))
    pidfile = PidFile(expand_node_path(opts["pidfile"], nodename))
    pidfile.check()
    return pidfile


def daemonize(detached: bool, pidfile: PidFile) -> None:
    """``-D``: into the background; then the pidfile gets the pid that will run (the daemon's)."""
    if detached:
        detach()
    pidfile.acquire()
