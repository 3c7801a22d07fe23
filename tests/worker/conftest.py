"""Fixtures for CLI tests: a client app on the test redis, and a factory of worker subprocesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taskora import Taskora

from ..cli.helpers import WorkerProcess, client_app


@pytest.fixture
def client(redis_url: str) -> Iterator[Taskora]:
    app = client_app(redis_url)
    yield app
    app.close()


@pytest.fixture
def start_worker(redis_url: str, tmp_path: Path, client: Taskora) -> Iterator[Callable[..., WorkerProcess]]:
    """``start_worker("-P", "threads", ...)`` starts a worker and waits until it answers a ping."""
    started: list[WorkerProcess] = []

    def start(*args: str, hostname: str | None = None, ready: bool = True) -> WorkerProcess:
        worker = WorkerProcess(redis_url, tmp_path, *args, hostname=hostname)
        started.append(worker)
        return worker.wait_ready(client) if ready else worker

    yield start
    for worker in started:
        worker.stop()
