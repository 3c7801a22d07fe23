"""What ``taskora worker -A proj`` calls on a Celery app before starting: imports, default app, signals."""

from __future__ import annotations

from collections.abc import Iterable

from .. import _state

__all__ = ["WorkerHooksMixin"]


class WorkerHooksMixin:
    """``__taskora_worker_init__``: the CLI's hook (found without importing compat)."""

    def __taskora_worker_init__(self, hostname: str | None = None, pool: str | None = None,
                                concurrency: int | None = None, queues: Iterable[str] | None = None,
                                loglevel: int | str | None = None, logfile: str | None = None) -> None:  # fmt: skip
        """Called by ``taskora worker -A`` before it starts: imports, default app, logging, signals wiring.

        ``loglevel``/``logfile`` default to what the CLI's first logging setup used.
        """
        from .. import signals
        from ..utils.log import set_current_task_getter
        from ._worker_logging import redirect_stdouts, setup_worker_logging

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
        if not setup_worker_logging(self.conf, loglevel, logfile):
            # in each process that runs tasks, after the banner (which stays on the terminal)
            native.on("worker:process-init", lambda *_: redirect_stdouts(self.conf))
        # the trace logs each failure in Celery's words; a failed listener keeps the native line quiet
        native.events.on("task:failed", _logged_by_trace)
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


def _logged_by_trace(*_event: object) -> None:
    """Failures of Celery tasks are logged by the trace (``Task x[id] raised unexpected: …``)."""
