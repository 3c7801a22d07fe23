"""``celery.worker.WorkController`` / ``app.Worker``: an in-process worker object for a Celery app.

Constructing one does what building Celery's worker does before it consumes: the loader's worker set-up
(``import_modules``, the task modules), the app made current and default, ``celeryd_init`` and
``worker_init`` (sent by this object: a Django fixup recognises its own app's worker by ``sender.app``).
Nothing is consumed until :meth:`start`, which runs the worker ``taskora worker -A`` runs (same pools, same
control channel) in the foreground until :meth:`stop` (warm: running tasks finish) or :meth:`terminate`
(cold), from another thread or a signal handler.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from taskora.worker.control import ControlHandler, ControlServer
from taskora.worker.live_ops import LiveOps
from taskora.worker.pool_choice import make_pool
from taskora.worker.pools import Pool, StopSignals, WorkerSettings, serve
from taskora.worker.served import ServedTasks, on_tasks_changed
from taskora.worker.unknown import UnknownTasks

from ..concurrency import BasePool, get_implementation
from ..exceptions import ImproperlyConfigured
from ..utils.log import log_level
from ..utils.nodenames import default_nodename

__all__ = ["WorkController"]

#: The signals :meth:`WorkController.start` handles when run on the main thread (as ``celery worker`` does).
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


class WorkController:
    """An in-process worker for ``app``: ``app.Worker(pool='solo', concurrency=1).start()``.

    Celery's attributes that projects and fix-ups read: ``app``, ``hostname``, ``pool_cls`` (a class, see
    :mod:`taskora.compat.concurrency`), ``concurrency``, ``loglevel``, ``queues``, ``options``.
    """

    app: Any = None

    def __init__(self, app: Any = None, hostname: str | None = None, pool: Any = None, concurrency: Any = None,
                 loglevel: int | str | None = None, logfile: str | None = None,
                 queues: Iterable[str] | str | None = None, pool_cls: Any = None, **options: Any) -> None:  # fmt: skip
        self.app = app or self.app or _current_app()
        self.hostname = default_nodename(hostname)
        conf = self.app.conf
        self.pool_cls: type[BasePool] = get_implementation(pool or pool_cls or conf.get("worker_pool") or "prefork")
        self.concurrency = _concurrency(concurrency or conf.get("worker_concurrency"))
        self.loglevel = log_level(loglevel or "WARNING")
        self.logfile = logfile
        self.queues = _queue_list(queues)
        self.options = options
        self.exitcode: int | None = None
        #: The running pool (taskora's), while :meth:`start` runs.
        self.pool: Pool | None = None
        self._signals = StopSignals()
        self._stopped = threading.Event()
        self.app.__taskora_worker_init__(hostname=self.hostname, pool=self.pool_cls.taskora_pool,
                                         concurrency=self.concurrency, queues=self.queues or None,
                                         loglevel=loglevel, logfile=logfile, worker=self)

    def __repr__(self) -> str:
        return f"<Worker: {self.hostname} ({self.pool_cls.taskora_pool}, concurrency={self.concurrency})>"

    def start(self) -> None:
        """Consume until :meth:`stop`/:meth:`terminate` (or SIGTERM/SIGINT/SIGQUIT on the main thread)."""
        native = self.app.__taskora_app__
        native.adapter.connect()
        settings = self._settings(native)
        pool = self.pool = make_pool(settings)
        with self._signal_handlers():
            pool.start()
            try:
                with self._services(native, settings, pool):
                    serve(pool, self._signals, name=self.hostname)
            finally:
                native.events.emit("worker:shutdown", {"hostname": self.hostname, "pool": settings.pool})
                self.pool = None
                self._stopped.set()

    def stop(self, in_sighandler: bool = False, exitcode: int | None = None) -> None:
        """Warm shutdown: take no new task, let the running ones finish, then :meth:`start` returns."""
        if exitcode is not None:
            self.exitcode = exitcode
        self._signals.request_stop()

    def terminate(self, in_sighandler: bool = False) -> None:
        """Cold shutdown: stop at once; the running tasks are left for the stall sweep to redeliver."""
        self._signals.terms = max(self._signals.terms + 1, 2)
        self._signals.changed.set()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Wait until a started worker has stopped (True), or ``timeout`` seconds passed (False)."""
        return self._stopped.wait(timeout)

    def _settings(self, native: Any) -> WorkerSettings:
        tasks = native.select_tasks(queues=self.queues or None)
        if not tasks:
            raise ImproperlyConfigured(
                f"worker {self.hostname} has no tasks to run (queues: {', '.join(self.queues) or 'all'})")
        pool = self.pool_cls.taskora_pool
        return WorkerSettings(app=native, tasks=tasks, hostname=self.hostname, pool=pool,
                              concurrency=1 if pool == "solo" else self.concurrency,
                              soft_time_limit=self.options.get("soft_time_limit"),
                              time_limit=self.options.get("time_limit"),
                              max_tasks_per_child=self.options.get("max_tasks_per_child"),
                              extra={"queues": sorted({t.options.queue for t in tasks})})

    @contextmanager
    def _services(self, native: Any, settings: WorkerSettings, pool: Pool) -> Iterator[None]:
        """What ``taskora worker`` runs beside its pool: remote control (with the live operations such as
        ``add_consumer`` and ``pool_grow``), the served-tasks record, and the handling of unknown tasks' jobs."""
        handler = ControlHandler(native, [t.name for t in settings.tasks], self.hostname, pool=settings.pool,
                                 concurrency=settings.concurrency, active=pool.active, stats=pool.stats,
                                 request_stop=self._signals.request_stop)
        served = ServedTasks(native.adapter, lambda: handler.task_names)
        handler.ops = LiveOps(pool, autoscaler=None, on_tasks=on_tasks_changed(handler, served),
                              prepare_queue=getattr(self.app, "select_queues", None))
        control = ControlServer(native, handler)
        unknown = UnknownTasks(native, lambda: list(settings.extra["queues"]), self.hostname)
        services = (served, control, unknown)
        for service in services:
            service.start()
        try:
            yield
        finally:
            for service in reversed(services):
                service.stop()

    @contextmanager
    def _signal_handlers(self) -> Iterator[None]:
        """On the main thread, SIGTERM/SIGINT stop the worker (twice: cold) and SIGQUIT terminates it, as in
        Celery; the previous handlers come back when it returns. Elsewhere only stop()/terminate() do."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
        signal.signal(signal.SIGTERM, lambda *_: self.stop(in_sighandler=True))
        signal.signal(signal.SIGINT, lambda *_: self.stop(in_sighandler=True))
        signal.signal(signal.SIGQUIT, lambda *_: self.terminate(in_sighandler=True))
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _current_app() -> Any:
    from .. import _state

    return _state.get_current_app()


def _concurrency(value: Any) -> int:
    """``concurrency``: a positive integer (a string of one accepted), else the CPU count, as Celery."""
    if value in (None, "", 0):
        return os.cpu_count() or 1
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"worker concurrency must be a positive integer, got {value!r}") from None
    if count < 1:
        raise ImproperlyConfigured(f"worker concurrency must be a positive integer, got {value!r}")
    return count


def _queue_list(queues: Iterable[str] | str | None) -> list[str]:
    if queues is None:
        return []
    if isinstance(queues, str):
        return [q.strip() for q in queues.split(",") if q.strip()]
    return list(queues)
