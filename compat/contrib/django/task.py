"""``celery.contrib.django.task.DjangoTask``: ``delay_on_commit`` / ``apply_async_on_commit`` (Celery 5.4+).

An app created while ``DJANGO_SETTINGS_MODULE`` is set (and Django is installed) uses this class as the
base of its tasks unless the project gave ``task_cls``, as Celery's Django fixup does; outside Django a
task has neither method, as in Celery.
"""

from __future__ import annotations

from typing import Any

from ...app._publish import send_on_commit
from ...app.task import Task

__all__ = ["DjangoTask"]


class DjangoTask(Task):
    """A task that can be sent once the current database transaction commits."""


    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``delay(*args, **kwargs)`` when the transaction commits (at once outside a transaction; never
        if it rolls back). Returns None, as Celery's does: the task id is not known before the commit."""
        send_on_commit(self.delay, args, kwargs)

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """``apply_async(*args, **kwargs)`` when the transaction commits; returns None."""
        send_on_commit(self.apply_async, args, kwargs)
