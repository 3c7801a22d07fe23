"""Run a migrated example project: `taskora worker -A proj` subprocesses and client scripts.

Everything runs as separate processes with the project folder as working directory, the way a user
runs it, so two projects that both call their package ``proj`` never meet in one interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...processes import kill_process_group
from ...waiting import wait_until  # noqa: F401 - re-exported for the project tests

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


def load_migrate_imports():
    """``scripts/migrate_imports.py`` as a module (scripts/ is not a package); loaded once per process."""
    if "migrate_imports" not in sys.modules:
        spec = importlib.util.spec_from_file_location("migrate_imports", ROOT / "scripts" / "migrate_imports.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["migrate_imports"] = module
        spec.loader.exec_module(module)
    return sys.modules["migrate_imports"]


migrate_imports = load_migrate_imports()


def migrate(example: str, tmp_path: Path) -> Path:
    """Rewrite ``examples/<example>`` into ``tmp_path/<example>`` and return the migrated folder."""
    target = tmp_path / example
    migrate_imports.migrate_tree(EXAMPLES / example, target)
    return target


def project_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DJANGO_"))}
    env.update(REDIS_URL=redis_url, PYTHONUNBUFFERED="1", **extra)
    return env


class WorkerProcess:
    """One ``python -m taskora worker`` subprocess whose output goes to a log file."""

    def __init__(self, project: Path, env: dict[str, str], args: list[str], log: Path) -> None:
        self.log = log
        self._out = open(log, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "taskora", *args], cwd=project, env=env, stdout=self._out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        """Warm shutdown (SIGTERM), then SIGKILL of the process group if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_process_group(self.proc, 5)
        self._out.close()
        return self.proc.returncode


@contextmanager
def worker(project: Path, env: dict[str, str], *args: str, command: str = "worker") -> Iterator[WorkerProcess]:
    """Run ``taskora <command> -A proj -l info <args>`` for the duration of the block."""
    log = project / f"{command}-{time.monotonic_ns()}.log"
    process = WorkerProcess(project, env, [command, "-A", "proj", "-l", "info", *args], log)
    try:
        yield process
    finally:
        process.stop()


def run_client(project: Path, env: dict[str, str], code: str, timeout: float = 60.0) -> object:
    """Run ``code`` as a script in the project; it must print one JSON document as its last line."""
    script = project / f"client_{time.monotonic_ns()}.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=project, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"client failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])
