"""Fault tests run ``taskora worker -A tests.faults.proj_poison`` subprocesses against the test redis-server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from taskora import Taskora

from ..cli.helpers import ROOT, WorkerProcess, env_for

PROJ = "tests.faults.proj_poison"
TASKS = ("poison", "innocent", "durable")


class PoisonWorker(WorkerProcess):
    """A ``taskora worker -A tests.faults.proj_poison`` process (ping, log and stop as the CLI tests' one)."""

    def __init__(self, url: str, workdir: Path, *args: str) -> None:
        self.hostname = f"w{uuid.uuid4().hex[:6]}@faults"
        self.log_path = workdir / f"{self.hostname}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        cmd = [sys.executable, "-m", "taskora", "worker", "-A", PROJ, "-n", self.hostname, "-l", "info", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env_for(url, workdir), stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)


@pytest.fixture
def client(redis_url: str) -> Iterator[Taskora]:
    app = Taskora(redis_url)
    for name in TASKS:
        app.register_task(name, None)
    yield app
    app.close()


@pytest.fixture
def start_worker(redis_url: str, tmp_path: Path, client: Taskora) -> Iterator[Callable[..., PoisonWorker]]:
    started: list[PoisonWorker] = []

    def start(*args: str) -> PoisonWorker:
        worker = PoisonWorker(redis_url, tmp_path, *args)
        started.append(worker)
        return worker.wait_ready(client)  # type: ignore[return-value]

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def runs(redis_url: str) -> Callable[[str], list[str]]:
    """``runs(job_id)``: one ``<pid>:<attempt>`` per time a handler started that job."""
    client = redis.Redis.from_url(redis_url)
    return lambda job_id: [r.decode() for r in client.lrange(f"runs:{job_id}", 0, -1)]
