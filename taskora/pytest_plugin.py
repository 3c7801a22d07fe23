"""taskora's pytest plugin: fixtures for testing your tasks, installed with taskora.

Registered as the ``taskora`` ``pytest11`` entry point, so a project that installs taskora gets these
fixtures without a ``pytest_plugins`` line (the Celery front's fixtures are the separate
``taskora_celery`` plugin; the two share no fixture or marker name):

- ``taskora_app``: your app (``taskora_app = proj.tasks:app`` in the ini file, ``--taskora-app`` or
  ``TASKORA_APP``), else a fresh in-memory ``Taskora()``.
- ``taskora_runner``: a :class:`~taskora.testing.TestRunner` wrapping ``taskora_app`` (virtual time,
  in memory), disposed after the test.
- ``taskora_redis_url``: a real Redis: ``--taskora-redis-url`` / ``TASKORA_TEST_REDIS_URL``, else a
  ``redis-server`` the plugin starts for the session; the test is skipped when neither exists.
- ``taskora_worker``: a real ``taskora worker`` process for your app on that Redis; ``taskora_app``
  dispatches to it during the test.

Markers: ``@pytest.mark.taskora(start_ms=..., worker_args=[...])`` sets the runner's clock start and the
worker's extra options for one test; ``@pytest.mark.taskora_redis`` skips a test when no Redis is available.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from .errors import TaskoraError
from .testing.redis_server import LocalRedis, redis_server_binary

if TYPE_CHECKING:  # the rest of taskora is imported by the fixtures that use it, not when pytest loads the plugin
    from .app import Taskora
    from .testing import TestRunner

#: Environment variables read when the command-line option and ini setting are absent.
APP_ENV, REDIS_ENV = "TASKORA_APP", "TASKORA_TEST_REDIS_URL"
#: How long ``taskora_worker`` waits for its process to answer a ping.
WORKER_START_TIMEOUT = 30.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("taskora")
    group.addoption("--taskora-app", default=None, metavar="MODULE:ATTR",
                    help="The app taskora_app gives (default: ini taskora_app, then $TASKORA_APP, else in memory).")
    group.addoption("--taskora-redis-url", default=None, metavar="URL",
                    help=f"Redis for taskora_worker (default: ${REDIS_ENV}, else a redis-server the plugin starts). "
                         f"It is not flushed: give it a database the tests own.")
    parser.addini("taskora_app", "The app taskora_app gives (module:attr).", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "taskora(start_ms=None, worker_args=()): options of taskora_runner "
                                       "(virtual clock start) and taskora_worker (extra worker options)")
    config.addinivalue_line("markers", "taskora_redis: the test needs a real Redis; skipped when none is available")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("taskora_redis") is not None and _redis_source(item.config) is None:
        pytest.skip(_NO_REDIS)


_NO_REDIS = f"no Redis for taskora: pass --taskora-redis-url, set {REDIS_ENV}, or install redis-server"


def _app_spec(config: pytest.Config) -> str | None:
    return config.getoption("--taskora-app") or config.getini("taskora_app") or os.environ.get(APP_ENV) or None


def _redis_source(config: pytest.Config) -> str | None:
    """The Redis URL given, ``"local"`` when the plugin can start a redis-server, else None."""
    given = config.getoption("--taskora-redis-url") or os.environ.get(REDIS_ENV)
    if given:
        return str(given)
    return "local" if redis_server_binary() is not None else None


def _marker_option(request: pytest.FixtureRequest, name: str, default: Any) -> Any:
    marker = request.node.get_closest_marker("taskora")
    return marker.kwargs.get(name, default) if marker is not None else default


# -- in memory ----------------------------------------------------------------------------------------


@pytest.fixture
def taskora_app(request: pytest.FixtureRequest) -> Iterator[Taskora]:
    """Your configured app (loaded once, shared by the tests), or a fresh in-memory app closed after the test."""
    from .app import Taskora
    from .cli._app import load_app

    spec = _app_spec(request.config)
    if spec is not None:
        yield load_app(spec).app
        return
    app = Taskora()
    yield app
    app.close(timeout=5)


@pytest.fixture
def taskora_runner(request: pytest.FixtureRequest, taskora_app: Taskora) -> Iterator[TestRunner]:
    """A TestRunner wrapping ``taskora_app`` on an in-memory engine and a virtual clock."""
    from .testing import TestRunner

    runner = TestRunner(from_=taskora_app, start_ms=_marker_option(request, "start_ms", None))
    yield runner
    runner.dispose()


# -- on real Redis ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def taskora_redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A Redis URL for the session: the one given, else a redis-server started here (skipped if neither)."""
    source = _redis_source(request.config)
    if source is None:
        pytest.skip(_NO_REDIS)
    if source != "local":
        yield source
        return
    server = LocalRedis().start()
    yield server.url
    server.stop()


@dataclass
class WorkerProcess:
    """A running ``taskora worker`` for the test: ``app`` dispatches to it, ``url`` is its Redis."""

    app: Taskora
    url: str
    spec: str
    process: subprocess.Popen[str]
    options: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 15.0) -> int:
        """Warm stop (SIGTERM: active jobs finish), killed after ``timeout``; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


def _start_worker(app: Taskora, spec: str, url: str, options: list[str], cwd: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "taskora.testing.worker_process", url, spec, "-P", "threads", "-c", "2",
               *options]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (cwd, os.environ.get("PYTHONPATH")) if p)}
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_ping(app: Taskora, process: subprocess.Popen[str], spec: str) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TaskoraError(f"taskora_worker: the worker for {spec} exited with {process.returncode}: "
                               f"{(process.stderr.read() if process.stderr else '')[-2000:]}")
        if app.broadcast("ping", timeout=0.5):
            return
    process.kill()
    raise TaskoraError(f"taskora_worker: the worker for {spec} did not answer a ping in {WORKER_START_TIMEOUT}s")


@pytest.fixture
def taskora_worker(request: pytest.FixtureRequest, taskora_app: Taskora,
                   taskora_redis_url: str) -> Iterator[WorkerProcess]:  # fmt: skip
    """A ``taskora worker`` process for your app on ``taskora_redis_url``; ``taskora_app`` points there too."""
    spec = _app_spec(request.config)
    if spec is None:
        raise TaskoraError("taskora_worker needs your app's import path: set taskora_app = module:attr in the "
                           "ini file, pass --taskora-app, or set TASKORA_APP")
    from .redis import redis_adapter

    original = taskora_app.rebind(redis_adapter(taskora_redis_url))
    options = [str(o) for o in _marker_option(request, "worker_args", ())]
    process = _start_worker(taskora_app, spec, taskora_redis_url, options, str(request.config.rootpath))
    worker = WorkerProcess(taskora_app, taskora_redis_url, spec, process, options)
    try:
        _wait_for_ping(taskora_app, process, spec)
        yield worker
    finally:
        worker.stop()
        taskora_app.close(timeout=5)
        taskora_app.rebind(original)
