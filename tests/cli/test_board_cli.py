"""``taskora board`` as a subprocess: refuses to start without authentication, serves the board on 127.0.0.1
by default, and shows a live ``taskora worker`` as online."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ..processes import kill_process_group
from .helpers import PROJ, ROOT, WorkerProcess, env_for, run_cli, wait_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_board_refuses_to_start_without_authentication(redis_url: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKORA_BOARD_PASSWORD", raising=False)
    done = run_cli(redis_url, tmp_path, "board", "-A", PROJ)
    assert done.returncode != 0
    assert "TASKORA_BOARD_PASSWORD" in done.stderr and "--no-auth" in done.stderr


@pytest.fixture
def board_process(redis_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    env = {**env_for(redis_url, tmp_path), "TASKORA_BOARD_PASSWORD": "s3cret"}
    proc = subprocess.Popen([sys.executable, "-m", "taskora", "board", "-A", PROJ, "--port", str(port)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    yield proc, port
    kill_process_group(proc)


def test_the_board_serves_on_localhost_and_lists_live_workers(
        board_process: tuple[subprocess.Popen[str], int],
        start_worker: Callable[..., WorkerProcess]) -> None:  # fmt: skip
    proc, port = board_process
    worker = start_worker()
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            return httpx.get(f"{base}/api/session", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(answers, 30, "the board to listen")
    with httpx.Client(base_url=base) as web:
        assert web.get("/api/overview").status_code == 401
        assert web.post("/api/login", json={"password": "s3cret"}).status_code == 200
        overview = web.get("/api/overview").json()
        assert "add" in overview["tasks"] and worker.hostname in overview["workers"]
        with web.stream("GET", "/api/events") as events:  # an open page's event stream...
            lines = events.iter_lines()  # kept: a dropped iterator would close the stream
            assert next(lines) == "retry: 2000"
            # ...is told once no event can miss it: the page reads itself again then (board/live.py)
            assert [next(lines) for _ in range(4)] == [": connected", "", "event: ready", "data: []"]
            os.killpg(proc.pid, signal.SIGTERM)
            output, _ = proc.communicate(timeout=10)  # ...does not hold the stop up
    assert f"taskora board on http://127.0.0.1:{port}/" in output
