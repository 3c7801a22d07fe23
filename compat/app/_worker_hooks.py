"""What ``taskora worker -A proj`` calls on a Celery app before starting: imports, default app, signals."""

from __future__ import annotations

from collections.abc import Iterable

from .. import _state

__all__ = ["WorkerHooksMixin"]


class WorkerHooksMixin:
    """``__taskora_worker_init__``: the CLI's hook (found without importing compat)."""

    def __taskora_import_modules__(self) -> None:
        """Called by ``taskora purge/status/call/result/shell -A``: register the tasks of ``include=`` and
        autodiscovered modules, as the worker does, so those commands see every task."""
        self.set_current()
        self.set_default()
        self.loader_import_default_modules()

    def __taskora_worker_init__(self, hostname: str | None = None, pool: str | None = None,
                                concurrency: int | None = None,
                                queues: Iterable[str] | None = None) -> None:  # fmt: skip
        """Called by ``taskora worker -A`` before it starts: imports, default app, signals wiring."""
        from .. import signals
        from ..utils.log import set_current_task_getter

        if hostname:
            self.hostname = hostname if "@" in hostname else f"celery@{hostname}"
        self.set_current()
        self.set_default()
        self.loader_import_default_modules()
        set_current_task_getter(_state.get_current_task)
        native = self.__taskora_app__
        if queues is not None:
            self.select_queues(queues)
        options = {"hostname": self.hostname, "pool": pool, "concurrency": concurrency}
        signals.celeryd_init.send(sender=self.hostname, instance=self, conf=self.conf, options=options)
        signals.celeryd_after_setup.send(sender=self.hostname, instance=self, conf=self.conf)
        signals.worker_init.send(sender=self)
        native.on("worker:ready", lambda *_: signals.worker_ready.send(sender=self))
        native.on("worker:closing", lambda *_: signals.worker_shutting_down.send(
            sender=self.hostname, sig="SIGTERM", how="Warm", exitcode=0))
        for event, signal in (("worker:process-init", signals.worker_process_init),
                              ("worker:shutdown", signals.worker_shutdown)):
            try:
                native.on(event, lambda *_a, _s=signal: _s.send(sender=self.hostname))
            except ValueError:  # the native worker does not emit this event (yet)
                pass
