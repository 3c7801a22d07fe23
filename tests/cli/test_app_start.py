"""``app.worker_main(argv)`` and ``app.start(argv)``: a Celery project's ``__main__`` runs the command line in
its own process for its own app (compat/app/_main.py, taskora/cli/in_process.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from taskora.compat import Celery

from taskora.cli.in_process import run_cli
from taskora.errors import ConfigurationError

from ..processes import kill_process_group
from .helpers import ROOT, wait_until

#: A one-file Celery project that starts its own worker, or any command, from ``__main__``.
PROJECT = """
    import os
    import sys
    from taskora.compat import Celery

    app = Celery("mainproj", broker=os.environ["REDIS_URL"])

    @app.task(name="mainproj.mul", queue="mainq")
    def mul(x, y):
        return x * y

    if __name__ == "__main__":
        if sys.argv[1:2] == ["--worker"]:
            app.worker_main(["worker", "-P", "threads", "-c", "2", "-Q", "mainq", "-n", sys.argv[2],
                             "--loglevel=INFO"])
        elif sys.argv[1:2] == ["--argv"]:
            app.start(sys.argv[2:])
        else:
            app.start()
        print("start returned")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mainproj.py").write_text(textwrap.dedent(PROJECT))
    return tmp_path


def _env(url: str, project: Path) -> dict[str, str]:
    return dict(os.environ, REDIS_URL=url, PYTHONUNBUFFERED="1",
                PYTHONPATH=os.pathsep.join([str(project), str(ROOT), os.environ.get("PYTHONPATH", "")]))


def run_main(url: str, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "mainproj.py", *args], cwd=project, env=_env(url, project),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def client(redis_url: str) -> Iterator[Celery]:
    app = Celery("client", broker=redis_url)
    yield app
    app.close()


@pytest.fixture
def worker_main(redis_url: str, project: Path) -> Iterator[tuple[subprocess.Popen[Any], str]]:
    """``python mainproj.py --worker NODE``: the script's ``app.worker_main([...])``; killed (by pid) after."""
    node = f"main-{os.getpid()}@{socket.gethostname()}"
    log = open(project / "worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "mainproj.py", "--worker", node], cwd=project,
                            env=_env(redis_url, project), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    yield proc, node
    kill_process_group(proc)
    log.close()


def test_worker_main_runs_a_worker_for_the_app_until_sigterm(client: Celery, project: Path,
                                                             worker_main: tuple[subprocess.Popen[Any], str]) -> None:
    proc, node = worker_main

    def answered() -> bool:
        assert proc.poll() is None, (project / "worker.log").read_text()
        return node in (client.control.inspect(destination=[node], timeout=0.3).ping() or {})

    wait_until(answered, what=f"{node} to answer ping")
    sent = client.send_task("mainproj.mul", args=[6, 7], queue="mainq")
    assert sent.get(timeout=15) == 42
    stats = client.control.inspect(destination=[node], timeout=1).stats()
    assert stats[node]["pool"]["max-concurrency"] == 2  # the argv given to worker_main, not a default
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, (project / "worker.log").read_text()
    log = (project / "worker.log").read_text()
    assert "mainproj.mul" in log and "start returned" in log  # the banner's task; a clean stop returns


def test_start_passes_other_commands_through(client: Celery, redis_url: str, project: Path) -> None:
    for i in range(3):
        client.send_task("mainproj.mul", args=[i, i], queue="mainq")
    status = run_main(redis_url, project, "--argv", "status", "--json", "-t", "0.2")
    assert status.returncode == 0, status.stderr
    assert '"mainproj.mul"' in status.stdout and "start returned" in status.stdout
    purged = run_main(redis_url, project, "purge", "-f")  # app.start() with no argv: sys.argv[1:]
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith("Purged 3 jobs from ")
    other = run_main(redis_url, project, "--argv", "-A", "no_such_proj", "status")  # an -A in argv wins
    assert other.returncode != 0 and "no module named 'no_such_proj'" in other.stderr, other.stderr


def test_start_exits_with_the_commands_exit_code(redis_url: str, project: Path) -> None:
    bad = run_main(redis_url, project, "--argv", "worker", "-c", "zero")
    assert bad.returncode == 2, bad.stderr  # click's usage error, as from the shell
    assert "'zero'" in bad.stderr and "start returned" not in bad.stdout


def test_worker_main_needs_the_worker_subcommand(redis_url: str) -> None:
    app = Celery("argv", broker=redis_url)
    try:
        with pytest.raises(ValueError, match="worker sub-command"):  # Celery's type; ConfigurationError is one
            app.worker_main(["inspect", "ping"])
        with pytest.raises(ConfigurationError, match="is not a taskora app"):
            run_cli(object(), ["status"])
        with pytest.raises(ConfigurationError, match="list of arguments"):
            app.start("worker -l INFO")  # type: ignore[arg-type]
    finally:
        app.close()
