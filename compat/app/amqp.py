"""``app.amqp`` and ``app.loader``: the parts of Celery's AMQP and loader objects projects and test suites read.

``app.amqp.queues`` are the declared queues (``task_queues``, else ``task_default_queue``) as kombu
``Queue`` objects, ``app.amqp.router`` the app's router; ``app.loader.import_default_modules()`` imports
``imports``/``include`` and the autodiscovered task modules, as a worker does at start. Messages
are not AMQP here: there is no producer pool or connection to hand out.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AMQP", "Loader", "AppObjectsMixin"]


class AMQP:
    """``app.amqp``: the queue declarations and the router of one app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @property
    def queues(self) -> dict[str, Any]:
        """``{name: kombu.Queue}`` for every declared queue."""
        from kombu.entity import Exchange, Queue

        return {name: Queue(name, Exchange(spec.exchange or name, type=spec.exchange_type or "direct"),
                            routing_key=spec.routing_key or name)
                for name, spec in self.app.router.queues.items()}  # fmt: skip

    @property
    def router(self) -> Any:
        return self.app.router

    @property
    def default_queue(self) -> Any:
        return self.queues[self.app.router.default_queue]


class Loader:
    """``app.loader``: imports the project's task modules."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @property
    def conf(self) -> Any:
        return self.app.conf

    def import_default_modules(self) -> None:
        self.app.loader_import_default_modules()

    def import_task_module(self, module: str) -> Any:
        import importlib

        return importlib.import_module(module)

    import_module = import_task_module

    def on_worker_init(self) -> None:
        """Called by Celery when a worker starts: imports the default modules."""
        self.import_default_modules()


class AppObjectsMixin:
    """Gives the Celery app its ``amqp`` and ``loader`` attributes (one of each, made on first use)."""

    @property
    def amqp(self) -> AMQP:
        return self.__dict__.setdefault("_amqp_object", AMQP(self))

    @property
    def loader(self) -> Loader:
        return self.__dict__.setdefault("_loader_object", Loader(self))
