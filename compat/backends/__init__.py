"""Celery's result backends (``celery.backends``): the app's backend is the taskora store (``base.py``)."""

from __future__ import annotations

from .base import Backend, BaseBackend, BaseKeyValueStoreBackend, KeyValueStoreBackend
from .redis import RedisBackend

__all__ = ["Backend", "BaseBackend", "BaseKeyValueStoreBackend", "KeyValueStoreBackend", "RedisBackend"]
