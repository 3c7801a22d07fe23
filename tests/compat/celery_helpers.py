"""Shared helpers for the Celery front tests: a Celery app on the parametrised engine."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from taskora.compat import Celery

from ..processes import kill_process_group
from ..waiting import wait_until  # noqa: F401 - re-exported for the compat tests


@pytest.fixture
def make_celery(adapter_kind: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Celery]]:
    """``make_celery(**settings)``: a Celery app on redis-server or the in-memory engine, closed after."""
    apps: list[Celery] = []

    def make(**settings: Any) -> Celery:
        broker = request.getfixturevalue("redis_url") if adapter_kind == "redis" else "memory://"
        app = Celery("proj", broker=broker, **settings)
        apps.append(app)
        return app

    yield make
    for app in reversed(apps):
        app.close()


class CeleryWorker:
    """A ``python -m taskora worker -A <module>`` subprocess run in ``project`` (its own session; killed by pid)."""

    def __init__(self, project: Path, module: str, redis_url: str, hostname: str, *args: str) -> None:
        self.hostname = hostname
        self.log_path = project / f"{hostname}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, REDIS_URL=redis_url, PYTHONUNBUFFERED="1",
                   PYTHONPATH=os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")]))
        cmd = [sys.executable, "-m", "taskora", "worker", "-A", module, "-n", hostname, "-l", "info", *args]
        self.proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self, app: Celery, timeout: float = 20.0) -> CeleryWorker:
        """Until the worker answers a ping on the control channel (it is consuming by then)."""
        def answered() -> bool:
            assert self.proc.poll() is None, f"worker exited early:\n{self.log()}"
            return self.hostname in (app.control.inspect(destination=[self.hostname], timeout=0.3).ping() or {})

        wait_until(answered, timeout)
        return self

    def stop(self) -> None:
        kill_process_group(self.proc)
        self._log.close()


@contextmanager
def control_worker(project: Path, module: str, source: str, redis_url: str,
                   *args: str) -> Iterator[tuple[CeleryWorker, Celery]]:
    """A live ``taskora worker -A <module>`` (``args`` as its options) of the one-module project ``source``,
    ready on the control channel, and a client app of the same name; both stopped and closed after. What the
    control/inspect tests need: a node of their own (a unique hostname) to address."""
    (project / f"{module}.py").write_text(textwrap.dedent(source))
    client = Celery(module, broker=redis_url)
    worker = CeleryWorker(project, module, redis_url, f"{module}{uuid.uuid4().hex[:6]}@test", *args)
    try:
        yield worker.wait_ready(client), client
    finally:
        worker.stop()
        client.close()


def import_project(tmp_path: Path, name: str, source: str, redis_url: str,
                   monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Write a one-module Celery project that reads ``REDIS_URL`` and import it here too, so the test sends its
    calls with the project's own settings (routes, queues) as the workers run them. A fresh import each time;
    pop ``sys.modules[name]`` after the test."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return importlib.import_module(name)
