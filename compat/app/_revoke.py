"""``task_revoked`` from the worker: a job terminated while it ran, or one that expired before it started.

Celery sends ``task_revoked(request, terminated, signum, expired)`` in the worker that dropped the
request. Here:

* a terminate is seen by the worker process running the handler (``taskora.worker.terminate``),
  which tells this module before it kills or interrupts the handler: ``terminated=True``;
* an expiry is decided by the engine's claim (the job is never handed to a worker), which writes an
  ``expired`` event; every worker consuming that queue reads it, and the first to set the job's
  ``:revoked-signal`` mark (``SET NX``, expiring) sends ``expired=True``, so the signal goes out once,
  whichever worker reads first;
* a revoke of a job that had not started (its ``cancelled`` event, reason ``revoked``) goes out the same
  way, with ``terminated=False, expired=False``.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

from taskora.context import Context as NativeContext
from taskora.worker import terminate

from .. import signals
from ..worker import state as worker_state
from . import _execute
from .task import Context

if TYPE_CHECKING:
    from taskora import Taskora
    from taskora.events import Event
    from taskora.worker.runtime import JobRuntime

log = logging.getLogger("taskora.compat")
#: Celery logs its "Discarding revoked task" line from the worker's request module.
request_log = logging.getLogger("celery.worker.request")

__all__ = ["attach"]

#: How long the "signal already sent" mark of a job lives (seconds): workers read the event within moments.
SENT_MARK_TTL = 3600


def attach(app: Any, native: Taskora) -> None:
    """Send ``task_revoked`` from this worker for the app's terminated and expired jobs (once per app).

    Expired and revoked-before-start jobs are learnt from the tasks' event streams, which means reading every
    event of every job (an ``XREAD`` per job on a busy worker, a quarter of a no-op job's cost): only once a
    ``task_revoked`` receiver of the project's is connected, or when the worker logs ``celery.worker.request`` at
    INFO.
    """
    if getattr(app, "_revoke_signals_attached", False):
        return
    app._revoke_signals_attached = True
    terminate.on_terminated(lambda runtime, signum: _on_terminated(app, runtime, signum))
    if request_log.isEnabledFor(logging.INFO) or _project_receives():
        _hear_dropped(app, native)
        return
    app_ref = weakref.ref(app)

    def on_connect() -> bool:  # True: done (listening now, or the app is gone or closed)
        current = app_ref()
        if current is None or getattr(current, "_native", None) is None:  # collected, or closed
            return True
        if not _project_receives():
            return False
        _hear_dropped(current, current._native)
        return True

    signals.task_revoked.on_connect(on_connect)


def _project_receives() -> bool:
    """Whether a receiver of the project's listens to ``task_revoked`` (``worker.state``'s own bookkeeping does
    not count: the ids a ``revoke`` names reach it by broadcast; only expired ids would be missing from it)."""
    return any(key[0] != worker_state.REVOKED_RECEIVER_UID for key, _ref in signals.task_revoked.receivers)


def _hear_dropped(app: Any, native: Taskora) -> None:
    """Listen to the engine's ``expired`` and ``cancelled`` events (once per app)."""
    if getattr(app, "_dropped_heard", False):
        return
    app._dropped_heard = True
    native.on("task:expired", lambda event: _on_dropped(app, native, event, expired=True))
    native.on("task:cancelled", lambda event: _on_dropped(app, native, event, expired=False))


def _celery_task(app: Any, engine_name: str) -> Any:
    return app._tasks.get(engine_name.rpartition("::")[2])


def _on_terminated(app: Any, runtime: JobRuntime, signum: int) -> None:
    task = _celery_task(app, runtime.task_name)
    if task is None:
        return
    request = _execute.worker_request(app, task, runtime.decode_data(), NativeContext(runtime))
    signals.task_revoked.send(sender=task, request=request, terminated=True, signum=signum, expired=False)


def _on_dropped(app: Any, native: Taskora, event: Event, *, expired: bool) -> None:
    """An expired job, or one revoked before it ran (a terminated one is told by its worker instead)."""
    task = _celery_task(app, event.task)
    if task is None or (not expired and event.reason != "revoked"):
        return
    job = native.adapter.get_job(event.task, event.id)
    if job is None or not native.adapter.mark_job_once(event.task, event.id, "revoked-signal", SENT_MARK_TTL):
        return  # trimmed already, or another worker sent it
    if not expired:
        request_log.info("Discarding revoked task: %s[%s]", task.name, event.id)
    data = native.serializer.loads(job["data"]) if job.get("data") is not None else {}
    data = data if isinstance(data, dict) else {}
    request = Context(id=event.id, task=task.name, args=list(data.get("args") or []),
                      kwargs=dict(data.get("kwargs") or {}), hostname=app.hostname, is_eager=False)
    signals.task_revoked.send(sender=task, request=request, terminated=False, signum=None, expired=expired)

