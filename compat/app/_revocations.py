"""``task_revoked`` in a worker: Celery's signal for a revoked, expired or terminated task.

A Celery worker learns of a revoked or expired task when its message arrives, and of a terminated one
when it kills it. In taskora a revoked or expired job never reaches a worker: the engine cancels or
expires it atomically in Redis and records a ``cancelled``/``expired`` event. So the worker's main
process follows those events (only when ``task_revoked`` has receivers at worker start) and sends
the signal once per job across all workers: the first worker to mark the job in Redis sends it, as
exactly one Celery worker receives a revoked message.
"""

from __future__ import annotations

import logging
import signal as os_signal
from typing import Any

from .. import signals
from .control import celery_name
from .task import Context

__all__ = ["relay_revocations"]

log = logging.getLogger("celery.worker.request")
#: How long the "signal already sent" mark of a job lives (seconds); events are read within moments.
SENT_MARK_TTL = 3600


def relay_revocations(app: Any, native: Any) -> bool:
    """Send ``task_revoked`` for this app's cancelled and expired jobs; False when nobody listens."""
    if not signals.task_revoked.receivers:
        return False
    native.on("task:cancelled", lambda event: announce(app, native, event, expired=False))
    native.on("task:expired", lambda event: announce(app, native, event, expired=True))
    return True


def announce(app: Any, native: Any, event: Any, *, expired: bool) -> None:
    """Send ``task_revoked`` for one event unless another worker already did."""
    task = app.tasks.get(celery_name(event.task))
    if task is None or not _first_to_announce(native, event):
        return
    terminated = event.reason == "terminated"
    request = _request(app, native, event)
    if not terminated:
        log.info("Discarding revoked task: %s[%s]", task.name, event.id)
    signals.task_revoked.send(sender=task, request=request, terminated=terminated,
                              signum=int(os_signal.SIGTERM) if terminated else None, expired=expired)


def _first_to_announce(native: Any, event: Any) -> bool:
    return native.adapter.mark_job_once(event.task, event.id, "revoked-signal", SENT_MARK_TTL)


def _request(app: Any, native: Any, event: Any) -> Context:
    """The revoked job's request as far as the job hash tells (id, name, args, kwargs)."""
    fields = native.handle(event.task, event.id).fields() or {}
    data: Any = None
    if fields.get("data") is not None:
        try:
            data = native.serializer.loads(fields["data"])
        except Exception:  # an unreadable payload still gets its signal, without arguments
            log.debug("revoked job %s: data not readable", event.id, exc_info=True)
    envelope = data if isinstance(data, dict) else {}
    return Context(id=event.id, task=celery_name(event.task), args=list(envelope.get("args") or []),
                   kwargs=dict(envelope.get("kwargs") or {}), hostname=app.hostname, is_eager=False,
                   called_directly=False)
