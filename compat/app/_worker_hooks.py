"""What ``taskora worker -A proj`` and ``taskora beat -A proj`` call on a Celery app before starting: imports,
default app, Celery's logging setup, and the wiring that sends Celery's worker and beat signals."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .. import _state
from .._result_base import _set_task_join_will_block
from . import _revoked_stamps

if TYPE_CHECKING:
    from taskora import Taskora

__all__ = ["WorkerHooksMixin"]


class WorkerHooksMixin:
    """``__taskora_worker_init__`` and ``__taskora_beat_init__``: the CLI's hooks (found without importing compat)."""

    conf: Any

    if TYPE_CHECKING:  # provided by the app's other parts (base.py, _tasks.py, _engine.py)

        def set_current(self) -> None: ...
        def set_default(self) -> None: ...
        def loader_import_default_modules(self) -> None: ...
        def select_queues(self, queues: Iterable[str] | None = None) -> None: ...
        @property
        def __taskora_app__(self) -> Taskora: ...

    def __taskora_import_modules__(self) -> None:
        """Called by ``taskora purge/status/call/result/shell -A``: register the tasks of ``include=`` and
        autodiscovered modules, as the worker does, so those commands see every task."""
        self.set_current()
        self.set_default()
        self.loader_import_default_modules()

    def __taskora_worker_init__(self, hostname: str | None = None, pool: str | None = None,
                                concurrency: int | None = None, queues: Iterable[str] | None = None,
                                loglevel: int | str | None = None, logfile: str | None = None,
                                worker: Any = None) -> None:  # fmt: skip
        """Called by ``taskora worker -A`` before it starts: imports, default app, logging, signals wiring.

        ``loglevel``/``logfile`` default to what the CLI's first logging setup used. ``worker``: the
        ``app.Worker`` object being built, the sender of ``worker_init`` (else the app is).
        """
        from .. import signals
        from ..utils.log import set_current_task_getter
        from ..worker import control  # noqa: F401 - registers Celery's built-in commands this worker answers
        from ._worker_logging import redirect_stdouts, setup_worker_logging

        if hostname:
            self.hostname = hostname if "@" in hostname else f"celery@{hostname}"
        self.set_current()
        self.set_default()
        self.loader_import_default_modules()
        self.conf.include = worker_includes(self)
        set_current_task_getter(_state.get_current_task)
        native = self.__taskora_app__
        if queues is not None:
            self.select_queues(queues)
        _revoked_stamps.load_into_worker(self)  # stamps revoked before this worker started
        _set_task_join_will_block(True)  # its tasks must not wait for results (the embedded worker resets it)
        options = {"hostname": self.hostname, "pool": pool, "concurrency": concurrency}
        signals.celeryd_init.send(sender=self.hostname, instance=self, conf=self.conf, options=options)
        if not setup_worker_logging(self.conf, loglevel, logfile):
            # in each process that runs tasks, after the banner (which stays on the terminal)
            native.on("worker:process-init", lambda *_: redirect_stdouts(self.conf))
        signals.celeryd_after_setup.send(sender=self.hostname, instance=self, conf=self.conf)
        signals.worker_init.send(sender=self if worker is None else worker)
        _relay_worker_events(self, native)

    def __taskora_beat_init__(self, loglevel: int | str | None = None, logfile: str | None = None) -> None:
        """Called by ``taskora beat -A`` before the scheduler starts: Celery's logging setup, and ``beat_init``
        when the scheduler starts (not embedded: no ``beat_embedded_init``)."""
        from .. import signals
        from ._worker_logging import setup_worker_logging

        self.set_current()
        self.set_default()
        setup_worker_logging(self.conf, loglevel, logfile)
        self.__taskora_app__.on("scheduler:start", lambda runner: signals.beat_init.send(sender=runner))


def worker_includes(app: Any) -> tuple[str, ...]:
    """``conf.include`` once a worker starts: the modules asked for, plus every module defining a task.

    Celery's worker records them there (``inspect conf`` shows them). Only modules already imported are
    added, so a later import of the list (a worker restart) imports nothing new and cannot fail.
    """
    import sys

    defining = {getattr(task, "__module__", None) for task in list(app.tasks.values())}
    loaded = {module for module in defining if isinstance(module, str) and module in sys.modules}
    return tuple(sorted(set(app.conf.include or ()) | loaded))


def _relay_worker_events(app: Any, native: Any) -> None:
    """Send Celery's worker signals at the native worker's moments (events emitted in the process concerned)."""
    from .. import signals

    hostname = app.hostname
    native.on("worker:ready", lambda *_: signals.worker_ready.send(sender=app))
    native.on("worker:closing", lambda *_: signals.worker_shutting_down.send(
        sender=hostname, sig="SIGTERM", how="Warm", exitcode=0))
    native.on("worker:process-init", lambda *_: signals.worker_process_init.send(sender=hostname))
    native.on("worker:shutdown", lambda *_: signals.worker_shutdown.send(sender=hostname))
    # a prefork child about to exit, in that child
    native.on("worker:process-shutdown", lambda info: signals.worker_process_shutdown.send(
        sender=hostname, pid=info["pid"], exitcode=info["exitcode"]))
    # the worker's liveness beat (it renews its jobs' locks), in each process running jobs
    native.on("worker:heartbeat", lambda worker: signals.heartbeat_sent.send(sender=worker))
    native.on("scheduler:start", _beat_started)


def _beat_started(runner: Any) -> None:
    """``-B``: the scheduler starts inside this worker, so it is both beat's start and an embedded beat's."""
    from .. import signals

    signals.beat_init.send(sender=runner)
    signals.beat_embedded_init.send(sender=runner)
