"""The settings every publish and every job reads, kept per app until a setting changes.

A Celery-front ``delay()`` reads half a dozen settings (the task's ``task_*`` defaults, ``task_always_eager``,
``broker_transport_options``), and a worker reads a few for each job it runs (``Task.resolved``:
``task_track_started``, ``task_ignore_result``); each read resolves the name and looks through the settings'
layers, a few microseconds of every publish and every job for values that almost never change. They are kept
here, each as first read, with the settings' ``version`` (config.py) at that time: a reader compares that one
number, and any change of any setting made through ``app.conf`` (a write, a delete, ``update``,
``add_defaults``, a reload) empties the cache, so the next read gets the new values. Settings read live
from a source object (``config_from_object``, e.g. Django's settings under ``override_settings``) have no
version: nothing is kept for them.

What is kept is the value itself: a dict setting changed in place (``conf.broker_transport_options["x"] = 1``)
is the same object, seen as changed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["publish_setting"]


class _Kept:
    """The values read under one settings version."""

    __slots__ = ("values", "version")

    def __init__(self, version: int) -> None:
        self.version = version
        self.values: dict[str, Any] = {}


def publish_setting(conf: Any, name: str) -> Any:
    """``conf.get(name)``, kept until a setting changes (None for a setting that is not set)."""
    version = conf.version
    if version is None:
        return conf.get(name)
    kept: _Kept | None = getattr(conf, "_publish_kept", None)
    if kept is None or kept.version != version:
        kept = _Kept(version)
        conf._publish_kept = kept
    try:
        return kept.values[name]
    except KeyError:
        value = kept.values[name] = conf.get(name)
        return value
