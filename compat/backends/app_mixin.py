"""``app.backend``: the Celery app's result backend object (a mixin of the ``Celery`` class)."""

from __future__ import annotations

from typing import Any

from .redis import RedisBackend

__all__ = ["BackendMixin"]


class BackendMixin:
    """Gives the app Celery's ``backend`` attribute: one :class:`RedisBackend` on the app's store."""

    conf: Any

    @property
    def backend(self) -> RedisBackend:
        backend = self.__dict__.get("_result_backend")
        if backend is None:
            url = self.conf.get("result_backend") or self.conf.get("broker_url")
            backend = self.__dict__.setdefault("_result_backend", RedisBackend(self, url=url))
        return backend
