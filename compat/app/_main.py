"""``app.start(argv)`` and ``app.worker_main(argv)``: Celery's way to run its command line from Python.

Both run the ``taskora`` command line in this process with this app as the one ``-A`` names
(taskora/cli/in_process.py). As in Celery, ``worker_main`` refuses an argv without the ``worker``
subcommand (ConfigurationError, a ValueError as Celery's: ``start`` runs the others). With no argv
both read ``sys.argv`` past the program's name, so ``python proj.py worker -l INFO`` works with
``app.start()`` in ``__main__``.
A command that succeeds returns (None, as Celery's); one that fails raises SystemExit with the exit
code the shell command would have had, so a ``__main__`` script exits with it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from taskora.errors import ConfigurationError

__all__ = ["start", "worker_main"]


def start(app: Any, argv: Sequence[str] | None = None) -> None:
    """Run ``celery <argv>`` (the taskora command line) for ``app``; SystemExit(code) when it fails."""
    from taskora.cli.in_process import run_cli  # the command line loads only when a program runs it

    code = run_cli(app, _argv(argv))
    if code:
        raise SystemExit(code)


def worker_main(app: Any, argv: Sequence[str] | None = None) -> None:
    """Run ``celery worker ...`` for ``app``: ``argv`` must hold the ``worker`` subcommand."""
    args = _argv(argv)
    if "worker" not in args:
        raise ConfigurationError(f"app.worker_main(): the worker sub-command must be given in argv, got {args!r}; "
                         "use app.start() to run other commands")
    start(app, args)


def _argv(argv: Sequence[str] | None) -> list[str]:
    if argv is None:
        return list(sys.argv[1:])
    if isinstance(argv, str):
        raise ConfigurationError(f"argv must be a list of arguments (e.g. ['worker', '-l', 'INFO']), "
                                 f"got the string {argv!r}")
    return list(argv)
