"""Worker subprocesses: start one in its own process group, wait on its handlers, stop it.

Workers run as separate processes started from the shell command a user would type, because that
is how both libraries are deployed and because an in-process worker would share the GIL with the
code that measures it. Each worker gets its own process group so that stopping it also stops any
pool children (prefork), and a crashed worker ends the wait at once with its log attached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import pinning, stamps

REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_INTERVAL = 0.005  # seconds between two looks at the stamp file (a stat call, no Redis traffic)


def taskora_cli_argv() -> list[str]:
    """The ``taskora`` command run by this interpreter (no reliance on a console script on PATH)."""
    return [sys.executable, "-c", "import sys; from taskora.cli import main; sys.argv[0] = 'taskora'; main()"]


class WorkerDied(RuntimeError):
    """The worker process exited while the benchmark was still waiting on it."""


def worker_env(redis_url: str, stamp_file: str | None) -> dict[str, str]:
    """The environment of a worker: the bench Redis, the stamp file and the repository on the path."""
    env = dict(os.environ)
    env["BENCH_REDIS_URL"] = redis_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop(stamps.STAMP_ENV, None)
    if stamp_file:
        env[stamps.STAMP_ENV] = stamp_file
    return env


class Worker:
    """``with Worker(argv, env) as w:`` runs one worker for the duration of the block."""

    def __init__(self, argv: list[str], env: dict[str, str], stop_timeout: float = 20.0, cwd: Path = REPO_ROOT):
        self.argv = argv
        self.env = env
        self.cwd = cwd  # another checkout's, to run its code (bench/pickup_ab.py)
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="bench-worker-", suffix=".log", delete=False)

    def start(self) -> Worker:
        """Start the worker; a second call (``with w.start():`` enters too) keeps the one running: a second process
        would consume beside the first, unwatched, and outlive the block."""
        if self.proc is not None:
            return self
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=str(self.cwd), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=pinning.worker_preexec(),
        )
        _LIVE.add(self)
        return self

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise WorkerDied(f"worker exited with code {self.proc.returncode}: {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        self._log.flush()
        text = Path(self._log.name).read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:]) or "(no output)"

    def stop(self) -> None:
        """Warm shutdown (SIGTERM lets active jobs finish), then SIGKILL the group if it hangs."""
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        signal_group(proc.pid, signal.SIGKILL)  # leftover pool children, if any
        if proc.poll() is None:
            proc.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


_LIVE: set[Worker] = set()


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the group id is the worker's pid (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all_workers(*_args) -> None:
    """Stop every worker this process started (installed as the SIGTERM handler of a scenario)."""
    for worker in list(_LIVE):
        worker.close()
    if _args:  # called as a signal handler
        sys.exit(1)


def wait_until(ready, timeout: float, what: str, interval: float = 0.01) -> None:
    """Poll ``ready()`` until it is true; ``TimeoutError(what)`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f}s")
        time.sleep(interval)


def wait_for_stamps(path: str, n: int, timeout: float, worker: Worker | None = None) -> None:
    """Block until ``path`` holds ``n`` records; bounded by ``timeout``, cut short by a dead worker."""
    deadline = time.monotonic() + timeout
    while stamps.count(path) < n:
        if worker is not None:
            worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {stamps.count(path)} of {n} jobs ran within {timeout:.0f}s")
        time.sleep(POLL_INTERVAL)
