"""``app.events`` on the Celery app (a mixin of compat/app/base.py's ``Celery``)."""

from __future__ import annotations

from . import Events


class EventsMixin:
    """Gives the Celery app ``events``: one :class:`Events` per app, made on first use."""

    @property
    def events(self) -> Events:
        return self.__dict__.setdefault("_events_object", Events(self))
