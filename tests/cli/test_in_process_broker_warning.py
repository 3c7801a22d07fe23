"""A worker started with no broker configured runs on the in-process engine, which no other process can reach: it
says so at start (Celery, with no broker set, would be trying ``amqp://localhost``); one with a broker does not."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from .helpers import env_for, wait_until

WARNING = "no broker configured (memory://, the in-process engine)"


def _worker_log(tmp_path: Path, redis_url: str, broker: str | None) -> str:
    (tmp_path / "brokerless.py").write_text(textwrap.dedent(f"""
        from taskora.compat import Celery

        app = Celery("brokerless"{f", broker={broker!r}" if broker else ""})

        @app.task
        def add(x, y):
            return x + y
        """))
    log_path = tmp_path / "worker.log"
    env = env_for(redis_url, tmp_path)
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "brokerless", "-P", "threads",
                                 "-l", "info", "-n", "nb@test"], cwd=tmp_path, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: "nb@test ready." in log_path.read_text(), 20, "the worker to be ready")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    return log_path.read_text()


def test_a_worker_without_a_broker_warns_that_no_other_process_reaches_it(tmp_path: Path, redis_url: str) -> None:
    log = _worker_log(tmp_path, redis_url, None)
    assert "broker:      memory://" in log
    assert f"WARNING/MainProcess] nb@test: {WARNING}" in log and "set broker_url" in log


def test_a_worker_with_a_broker_does_not(tmp_path: Path, redis_url: str) -> None:
    assert WARNING not in _worker_log(tmp_path, redis_url, redis_url)
