"""Celery's unknown-task path on taskora: producers note which task names they send to each queue, and a worker
that finds jobs of a name no live worker knows fails them (taskora/worker/unknown.py); here the ``task_unknown``
signal is sent for each, with Celery's arguments (``message`` is None: taskora has no kombu message; ``exc`` is
``NotRegistered(name)``). A failed job reads back as ``FAILURE`` with ``NotRegistered``, as Celery marks it.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from taskora.adapters.base import CONNECTION_ERRORS

#: Per native app, the (queue, engine task) pairs this process has noted already (one write per pair).
_noted: weakref.WeakKeyDictionary[Any, set[tuple[str, str]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def note_sent(native: Any, queue: str, engine_name: str) -> None:
    """Record, once per process, that ``engine_name`` jobs go to ``queue`` (adapters/queue_index.py). Best effort:
    a broker that cannot take the note is left to the dispatch that follows, which reports it as Celery would
    (kombu's OperationalError), and the note is tried again with the next send."""
    seen = _noted.get(native)
    if seen is not None and (queue, engine_name) in seen:  # every send after the first: a set test, no lock
        return
    with _lock:
        seen = _noted.setdefault(native, set())
        if (queue, engine_name) in seen:
            return
    try:
        native.adapter.note_queue_task(queue, engine_name)
    except CONNECTION_ERRORS:
        return
    with _lock:
        seen.add((queue, engine_name))


def attach(app: Any, native: Any) -> None:
    """Send ``task_unknown`` in this worker for each job of an unknown task it failed (once per app)."""
    if getattr(app, "_unknown_signal_attached", False):
        return
    app._unknown_signal_attached = True
    native.on("worker:task-unknown", lambda info: _send(app, info))


def _send(app: Any, info: dict[str, Any]) -> None:
    from .. import signals
    from ..exceptions import NotRegistered

    name = str(info["name"]).rpartition("::")[2]  # a per-queue twin's Celery name
    signals.task_unknown.send(sender=app, message=None, exc=NotRegistered(name), name=name, id=info["id"])
