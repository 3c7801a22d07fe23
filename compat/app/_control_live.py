"""``app.control`` methods that change live workers in place (Celery's ``pool_grow``, ``pool_shrink``,
``autoscale``, ``add_consumer``, ``cancel_consumer``, ``time_limit``): each is a broadcast of the control command every
``taskora worker`` answers (taskora.worker.live_ops), with Celery's arguments and reply shapes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LiveControlMixin"]

#: What ``broadcast`` returns: ``[{hostname: reply}, ...]`` with ``reply=True``, else None.
Replies = list[dict[str, Any]] | None


class LiveControlMixin:
    """Adds the live worker commands to ``app.control``; ``broadcast`` comes from ControlExtrasMixin."""

    broadcast: Any

    def pool_grow(self, n: int = 1, destination: Any = None, **kwargs: Any) -> Replies:
        """Grow each addressed worker's pool by ``n`` slots (prefork: child processes)."""
        return self.broadcast("pool_grow", arguments={"n": n}, destination=destination, **kwargs)

    def pool_shrink(self, n: int = 1, destination: Any = None, **kwargs: Any) -> Replies:
        """Shrink each addressed worker's pool by ``n`` (a slot leaves after its running job; one always stays)."""
        return self.broadcast("pool_shrink", arguments={"n": n}, destination=destination, **kwargs)

    def autoscale(self, max: int | None, min: int | None, destination: Any = None,  # noqa: A002 - Celery's names
                  **kwargs: Any) -> Replies:  # fmt: skip
        """Change the bounds of the addressed ``--autoscale`` workers (``{'ok': 'autoscale now max=X min=Y'}``; a
        worker without autoscale answers Celery's ``{'error': "ValueError('Autoscale not enabled')"}``)."""
        return self.broadcast("autoscale", arguments={"max": max, "min": min}, destination=destination, **kwargs)

    def add_consumer(self, queue: str, exchange: Any = None, exchange_type: str = "direct", routing_key: Any = None,
                     options: Any = None, destination: Any = None, **kwargs: Any) -> Replies:  # fmt: skip
        """Make the addressed workers serve the tasks routed to ``queue`` too (exchange arguments are accepted and
        unused: taskora routes by task)."""
        return self.broadcast("add_consumer", arguments={"queue": queue}, destination=destination, **kwargs)

    def cancel_consumer(self, queue: str, destination: Any = None, **kwargs: Any) -> Replies:
        """Make the addressed workers stop serving the tasks routed to ``queue`` (running jobs finish)."""
        return self.broadcast("cancel_consumer", arguments={"queue": queue}, destination=destination, **kwargs)

    def time_limit(self, task_name: str, soft: float | None = None, hard: float | None = None,
                   destination: Any = None, **kwargs: Any) -> Replies:  # fmt: skip
        """Set ``task_name``'s soft and hard limits (seconds; None: the worker's default) on the addressed workers,
        for jobs started from now on."""
        return self.broadcast("time_limit", arguments={"task_name": task_name, "soft": soft, "hard": hard},
                              destination=destination, **kwargs)
