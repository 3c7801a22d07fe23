"""The ``celery.ping`` task the embedded worker runs to prove it is consuming (Celery's name and reply)."""

from __future__ import annotations

from ...app import shared_task

__all__ = ["ping"]


@shared_task(name="celery.ping")
def ping() -> str:
    """Return ``'pong'``: a round trip through the broker, the worker and the result store."""
    return "pong"
