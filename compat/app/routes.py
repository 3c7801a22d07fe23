"""``celery.app.routes``, where a Celery project looks for its routers: ``MapRoute``, ``prepare`` and
``expand_router_string``, as ``task_routes`` uses them (the implementation, and the app's ``Router``, are in
``routing.py``; Celery's ``Router`` class is built from an app, ours from its settings: use ``app.amqp.router``)."""

from __future__ import annotations

from typing import Any

from .routing import MapRoute, _LazyRouter, prepare

__all__ = ["MapRoute", "expand_router_string", "prepare"]


def expand_router_string(router: str) -> Any:
    """The router an import path names (``'proj.routers.route_task'`` or ``'proj.routers:Router'``), imported now;
    a Celery 3 router class (with ``route_for_task``) is instantiated.

    Raises:
        ImproperlyConfigured: the path cannot be imported or names no router.
    """
    return _LazyRouter(router, "expand_router_string").resolve()
