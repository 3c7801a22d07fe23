"""The worker process's task bookkeeping (``celery.worker.state``).

The worker's handler marks each request accepted before it runs and ready after it (compat/app/_execute.py,
as Celery's request does), and ``task_revoked`` adds revoked ids, so it describes what *this* process ran,
as Celery's does. It is per process: a test or a remote-control command reading it must run in the
worker's process.
"""

from __future__ import annotations

import platform
from typing import Any

from .. import signals
from ..utils.collections import LimitedSet

__all__ = ["SOFTWARE_INFO", "active_requests", "reserved_requests", "requests", "revoked", "revoked_stamps",
           "successful_requests", "total_count", "all_total_count", "merge_revoked", "task_accepted", "task_ready",
           "task_reserved", "should_stop", "should_terminate", "reset_state"]

SOFTWARE_INFO = {"sw_ident": "taskora", "sw_ver": "5.5.0", "sw_sys": platform.system()}
#: How many ids of revoked and of succeeded tasks are remembered (Celery's defaults).
REVOKES_MAX = 50000
REVOKE_EXPIRES = 10800
SUCCESSFUL_MAX = 1000
SUCCESSFUL_EXPIRES = 10800

#: Ids of the tasks this process is running now, and the requests by id.
active_requests: set[str] = set()
reserved_requests: set[str] = set()
requests: dict[str, Any] = {}
#: Ids of tasks revoked, and of tasks that succeeded here (bounded, expiring).
revoked = LimitedSet(maxlen=REVOKES_MAX, expires=REVOKE_EXPIRES)
successful_requests = LimitedSet(maxlen=SUCCESSFUL_MAX, expires=SUCCESSFUL_EXPIRES)
#: Stamped-header revocations: ``{header: [values]}``.
revoked_stamps: dict[str, Any] = {}
#: Tasks started here, by name; and in all.
total_count: dict[str, int] = {}
all_total_count = [0]
#: Set to an exit code by a command that asks the worker to stop (warm) or terminate (cold).
should_stop: int | None = None
should_terminate: int | None = None


def reset_state() -> None:
    """Forget everything (a new worker process, or a test)."""
    for container in (active_requests, reserved_requests, requests, revoked, successful_requests, revoked_stamps,
                      total_count):
        container.clear()
    all_total_count[0] = 0


def merge_revoked(task_ids: Any) -> None:
    """Add task ids revoked elsewhere (another worker's ``hello``), stamped with this host's clock.

    Stamps that come with them are dropped: they were taken on another host's monotonic clock, and one
    ahead of ours would never expire here (Celery 5.7 does the same).
    """
    if task_ids:
        revoked.update(list(task_ids))


def task_reserved(request: Any) -> None:
    reserved_requests.add(request.id)
    requests[request.id] = request


def task_accepted(request: Any) -> None:
    """A task started: it is active, and counted under its name."""
    active_requests.add(request.id)
    reserved_requests.discard(request.id)
    requests[request.id] = request
    name = getattr(request, "name", None) or getattr(request, "task", None) or "unknown"
    total_count[name] = total_count.get(name, 0) + 1
    all_total_count[0] += 1


def task_ready(request: Any, successful: bool = False) -> None:
    """A task ended: no longer active; remembered among the successful ones when it succeeded."""
    active_requests.discard(request.id)
    reserved_requests.discard(request.id)
    requests.pop(request.id, None)
    if successful:
        successful_requests.add(request.id)


def _on_revoked(sender: Any = None, request: Any = None, **kwargs: Any) -> None:
    task_id = getattr(request, "id", None)
    if task_id:
        revoked.add(task_id)


#: The dispatch uid of this module's own ``task_revoked`` receiver: bookkeeping that does not, by itself, make a
#: worker read every task event (compat/app/_revoke.py); ids revoked by ``revoke`` arrive by broadcast anyway.
REVOKED_RECEIVER_UID = "taskora.compat.worker.state.revoked"

signals.task_revoked.connect(_on_revoked, weak=False, dispatch_uid=REVOKED_RECEIVER_UID)
