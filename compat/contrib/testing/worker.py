"""``start_worker``: an embedded taskora worker for a test, ready once it answers ping, stopped on exit.

The worker is the one ``taskora worker -A`` runs (same pools, same control channel), started inside
the test process, where its slots run as threads whatever pool is asked for. ``prefork`` runs as
``threads`` with the same concurrency: Celery's embedded prefork worker keeps its bookkeeping in the
test process (``worker.state.successful_requests``, revoked ids, the ``task_received``/``task_*``
signals, the trace log records a test reads from ``caplog``), and a taskora prefork child would keep
all of that in a forked process the test cannot see. The in-memory engine (Celery's default
``memory://`` test broker) could not share its store with forked children either.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from taskora.errors import ConfigurationError, TaskoraError
from taskora.worker.control import ControlHandler, ControlServer
from taskora.worker.pool_choice import make_pool
from taskora.worker.pools import POOL_NAMES, Pool, WorkerSettings
from taskora.worker.served import ServedTasks

from ..._result_base import _set_task_join_will_block
from ...signals import Signal
from ...utils.log import log_level

__all__ = ["TestWorkController", "WorkerStartError", "anon_nodename", "setup_app_for_worker", "start_worker",
           "test_worker_started", "test_worker_starting", "test_worker_stopped"]

WORKER_LOGLEVEL = os.environ.get("WORKER_LOGLEVEL", "error")
#: The loggers an embedded worker sets to its level: the root (Celery's lines propagate to it) and taskora's.
WORKER_LEVEL_LOGGERS = ("", "taskora")
test_worker_starting = Signal(name="test_worker_starting", providing_args=set())
test_worker_started = Signal(name="test_worker_started", providing_args={"worker", "consumer"})
test_worker_stopped = Signal(name="test_worker_stopped", providing_args={"worker"})


class WorkerStartError(TaskoraError):
    """The embedded worker did not become ready (no ping answer in time), or did not stop in time."""


def anon_nodename() -> str:
    """Celery's name for an embedded worker, ``gen<pid>@<host>`` (its suite pings the worker by this name)."""
    return f"gen{os.getpid()}@{socket.gethostname()}"


class TestWorkController:
    """An embedded worker: a taskora pool plus its control server, for one Celery app.

    Celery's ``WorkController`` surface that tests use: ``app``, ``hostname``, ``concurrency``,
    ``pool_cls``, ``start``/``stop``, ``ensure_started``, ``reload`` (picks up tasks defined after the
    worker started, which Celery's docs do with ``celery_worker.reload()``), ``stats``/``info``.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, app: Any, concurrency: int = 1, pool: str = "solo", hostname: str | None = None,
                 queues: Iterable[str] | str | None = None, soft_time_limit: float | None = None,
                 time_limit: float | None = None, max_tasks_per_child: int | None = None,
                 **ignored: Any) -> None:  # fmt: skip
        if pool not in POOL_NAMES:
            raise ValueError(f"unknown worker pool {pool!r}; the embedded worker runs {', '.join(POOL_NAMES)}")
        self.app = app
        self.hostname = hostname or anon_nodename()
        self.pool_cls = pool
        self.concurrency = 1 if pool == "solo" else concurrency
        self.queues = _queue_list(queues)
        self.limits: dict[str, Any] = {"soft_time_limit": soft_time_limit, "time_limit": time_limit,
                       "max_tasks_per_child": max_tasks_per_child}
        self.pool: Pool | None = None
        self._control: ControlServer | None = None
        self._served: ServedTasks | None = None

    def start(self) -> None:
        """Start the pool and the control server (returns at once; see :meth:`ensure_started`)."""
        self.app.__taskora_worker_init__(hostname=self.hostname, pool=self.pool_cls, concurrency=self.concurrency,
                                         queues=self.queues)
        _set_task_join_will_block(False)  # the test process is no worker process: it may wait (as in Celery)
        native = self.app.__taskora_app__
        native.adapter.connect()
        settings = self._settings(native)
        self.pool = make_pool(settings)
        self.pool.start()
        handler = ControlHandler(native, [t.name for t in settings.tasks], self.hostname, pool=settings.pool,
                                 concurrency=settings.concurrency, active=self.pool.active, stats=self.pool.stats)
        self._served = ServedTasks(native.adapter, lambda: handler.task_names)
        self._served.start()
        self._control = ControlServer(native, handler)
        self._control.start()

    def _settings(self, native: Any) -> WorkerSettings:
        tasks = native.select_tasks(queues=self.queues)
        if not tasks:
            raise WorkerStartError(f"the embedded worker has no tasks to run (queues: {self.queues or 'all'})")
        pool = "threads" if self.pool_cls == "prefork" else self.pool_cls  # state shared with the test (above)
        return WorkerSettings(app=native, tasks=tasks, hostname=self.hostname, concurrency=self.concurrency,
                              pool=pool, **self.limits)

    def ensure_started(self, timeout: float = 10.0) -> None:
        """Wait until the worker answers a control ping addressed to it."""
        deadline = time.monotonic() + timeout
        native = self.app.__taskora_app__
        while time.monotonic() < deadline:
            if native.broadcast("ping", timeout=0.1, destination=[self.hostname]):
                test_worker_started.send(sender=self.app, worker=self, consumer=None)
                return
        raise WorkerStartError(f"embedded worker {self.hostname} did not answer ping within {timeout}s")

    def stop(self, timeout: float | None = 10.0) -> None:
        """Warm shutdown: finish the running jobs; a cold stop (and an error) when they outlast ``timeout``."""
        pool, self.pool = self.pool, None
        try:
            if pool is not None:
                pool.request_stop(False)
                if not pool.wait(timeout):
                    pool.request_stop(True)
                    pool.wait(2.0)
                    raise WorkerStartError(
                        f"embedded worker {self.hostname} failed to stop within {timeout}s; raise shutdown_timeout "
                        "if your tasks take longer")
        finally:
            if self._control is not None:
                self._control.stop()
                self._control = None
            if self._served is not None:
                self._served.stop()
                self._served = None

    def reload(self, modules: Iterable[str] | None = None, reload: bool = False, reloader: Any = None) -> None:
        """Restart the pool so that tasks registered since the start are consumed too."""
        import importlib

        for module in modules or ():
            importlib.import_module(module)
        self.stop()
        self.start()
        self.ensure_started()

    def stats(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "pool": self.pool_cls, "concurrency": self.concurrency,
                **(self.pool.stats() if self.pool is not None else {})}

    def info(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "pool": self.pool_cls, "queues": self.queues}


def _queue_list(queues: Iterable[str] | str | None) -> list[str] | None:
    if queues is None:
        return None
    items = queues.split(",") if isinstance(queues, str) else list(queues)
    return [q.strip() for q in items if q.strip()] or None


def setup_app_for_worker(app: Any, loglevel: str | int = WORKER_LOGLEVEL, logfile: str | None = None) -> None:
    """Finalize ``app`` and make it current and default (as a worker does), and set the worker log level.

    The level goes on the root logger, as Celery's ``app.log.setup`` puts it there: the worker's INFO lines
    (``celery.worker.strategy``'s ``received``, ``celery.app.trace``'s ``succeeded``) then reach the test's
    ``caplog`` when ``WORKER_LOGLEVEL`` (or ``loglevel``) allows them, and stay out at the default ``error``.
    Celery's own CI runs its integration suite with ``WORKER_LOGLEVEL=INFO``.
    """
    try:
        level = log_level(loglevel)
    except ValueError:
        raise ConfigurationError(f"the embedded worker's loglevel {loglevel!r} is no logging level "
                                 "(WORKER_LOGLEVEL: DEBUG, INFO, WARNING, ERROR, CRITICAL or a number)") from None
    app.finalize()
    app.set_current()
    app.set_default()
    for name in WORKER_LEVEL_LOGGERS:
        logging.getLogger(name).setLevel(level)
    logger = logging.getLogger("taskora")
    if logfile and not any(getattr(h, "baseFilename", None) == os.path.abspath(logfile) for h in logger.handlers):
        logger.addHandler(logging.FileHandler(logfile))


@contextmanager
def start_worker(app: Any, concurrency: int = 1, pool: str = "solo", loglevel: str | int = WORKER_LOGLEVEL,
                 logfile: str | None = None, perform_ping_check: bool = True, ping_task_timeout: float = 10.0,
                 shutdown_timeout: float = 10.0, **kwargs: Any) -> Iterator[TestWorkController]:  # fmt: skip
    """Run an embedded worker for ``app`` for the duration of the block and yield it.

    Ready means it answered a control ping and, with ``perform_ping_check``, ran the ``celery.ping``
    task end to end (broker, worker, result store). On exit it stops warm within ``shutdown_timeout``.
    """
    test_worker_starting.send(sender=app)
    worker = None
    levels = _logger_levels()
    try:
        setup_app_for_worker(app, loglevel, logfile)
        if perform_ping_check:
            _ensure_ping_task(app)
        worker = TestWorkController(app, concurrency=concurrency, pool=pool, **kwargs)
        with _running(worker, shutdown_timeout):
            if perform_ping_check:
                _ping(app, ping_task_timeout)
            yield worker
    finally:
        test_worker_stopped.send(sender=app, worker=worker)
        _restore_levels(levels)


def _logger_levels() -> dict[str, int]:
    return {name: logging.getLogger(name).level for name in WORKER_LEVEL_LOGGERS}


def _restore_levels(levels: dict[str, int]) -> None:
    """Put back the levels the worker set: a test process outlives its embedded workers, and the next test
    (or ``caplog.set_level``) should not inherit a stopped worker's ``error`` on the root logger."""
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@contextmanager
def _running(worker: TestWorkController, shutdown_timeout: float) -> Iterator[None]:
    worker.start()
    try:
        worker.ensure_started()
        yield
    finally:
        worker.stop(shutdown_timeout)


def _ensure_ping_task(app: Any) -> None:
    """``celery.ping`` on the app and as an engine task (Celery's builtin names are not synced by default)."""
    from . import tasks  # noqa: F401 - the shared task registers on every app

    task = app.tasks["celery.ping"]
    app.__taskora_app__  # noqa: B018 - creates the native app before registering on it
    app._register_native(task, app._home_queue(task))


def _ping(app: Any, timeout: float) -> None:
    from ...exceptions import TimeoutError as CeleryTimeoutError

    try:
        answer = app.tasks["celery.ping"].delay().get(timeout=timeout)
    except CeleryTimeoutError:
        raise WorkerStartError(f"the embedded worker did not run celery.ping within {timeout}s") from None
    if answer != "pong":
        raise WorkerStartError(f"celery.ping answered {answer!r}, expected 'pong'")
