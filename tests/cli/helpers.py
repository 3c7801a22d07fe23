"""Run ``python -m taskora`` subprocesses against the test redis-server and wait on what they do."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from taskora import Taskora
from taskora.worker.control import broadcast

from ..processes import kill_process_group
from ..waiting import wait_until  # noqa: F401 - re-exported for the CLI tests

ROOT = Path(__file__).resolve().parents[2]
PROJ = "tests.cli.proj_native"
#: Task names of proj_native, registered handler-less on the test's client app.
TASKS = ("add", "noop", "whoami", "ids", "gc_frozen", "slow", "careful", "stuck", "slow_async")


def env_for(url: str, workdir: Path) -> dict[str, str]:
    env = dict(os.environ, TASKORA_TEST_URL=url, TASKORA_TEST_DIR=str(workdir), PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def run_cli(url: str, workdir: Path, *args: str, input: str | None = None, timeout: float = 30) -> Any:
    """Run one CLI command to completion; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "taskora", *args], cwd=ROOT, env=env_for(url, workdir),
                          capture_output=True, text=True, input=input, timeout=timeout)


def client_app(url: str) -> Taskora:
    """An app that knows proj_native's task names but runs none of them."""
    app = Taskora(url)
    for name in TASKS:
        app.register_task(name, None)
    return app


class WorkerProcess:
    """A ``taskora worker`` subprocess in its own session; killed (by pid) when the test ends."""

    def __init__(self, url: str, workdir: Path, *args: str, hostname: str | None = None) -> None:
        template = hostname or f"w{uuid.uuid4().hex[:6]}@test"
        self.hostname = template.replace("%h", socket.gethostname())  # what the worker will call itself
        self.log_path = workdir / f"{self.hostname}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "taskora", "worker", "-A", PROJ, "-n", template, "-l", "info", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env_for(url, workdir), stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, app: Taskora, timeout: float = 20.0) -> WorkerProcess:
        def answered() -> bool:
            assert self.proc.poll() is None, f"worker exited early:\n{self.log()}"
            return self.hostname in broadcast(app, "ping", timeout=0.3, destination=[self.hostname])

        wait_until(answered, timeout, f"{self.hostname} to answer ping")
        return self

    def log(self) -> str:
        return self.log_path.read_text()

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait_exit(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        kill_process_group(self.proc)  # it and its prefork children (tests/processes.py says why all of them)
        self._log.close()
