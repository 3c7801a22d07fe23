"""Run the ``taskora`` command line inside a program, for an app object it already holds.

Celery projects start workers from Python (``app.worker_main([...])``, ``if __name__ == "__main__":
app.start()``): the command line runs in the calling process with that app as the one ``-A`` would name
(an explicit ``-A`` in ``argv`` still wins). The command runs as from a shell: its output, its signal
handling (a worker stops on SIGTERM) and its exit code, which :func:`run_cli` returns instead of exiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from . import cli
from ._app import PRESET_APP, is_app_like


def run_cli(app: Any, argv: Sequence[str]) -> int:
    """Run ``taskora <argv>`` for ``app`` (a Taskora, or a front-end app such as compat's Celery) and return
    the command's exit code (0: success; 2: a usage error, as from the shell)."""
    if not is_app_like(app):
        raise ConfigurationError(f"run_cli: {app!r} is not a taskora app (a Taskora or an object with __taskora_app__)")
    if isinstance(argv, str):
        raise ConfigurationError(f"run_cli: argv must be a list of arguments, got the string {argv!r}")
    token = PRESET_APP.set(app)
    try:
        cli.main(args=[str(arg) for arg in argv], prog_name="taskora", standalone_mode=True)
    except SystemExit as exc:
        return exit_code(exc.code)
    finally:
        PRESET_APP.reset(token)
    return 0


def exit_code(code: Any) -> int:
    """A SystemExit's code as a process exit status (None: 0; a message: 1, as the interpreter treats it)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
