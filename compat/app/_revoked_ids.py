"""Telling live workers which task ids were revoked, as Celery's ``revoke`` broadcast does.

taskora cancels the job itself in the store, so no worker needs the message to stop the task. Workers
keep the ids all the same (``celery.worker.state.revoked``), because Celery users read them back with
``inspect().revoked()``, and an id revoked after its task finished is only known that way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..states import PENDING, RECEIVED, REJECTED, RETRY

__all__ = ["NOT_STARTED_STATES", "REVOKE_COMMAND", "mark_unstarted_revoked", "tell_workers_revoked"]

#: States of a task no worker has started: a revoke may record REVOKED over them.
NOT_STARTED_STATES = (PENDING, RECEIVED, RETRY, REJECTED)

#: How long ``revoke(reply=True)`` waits for answers when no timeout is given (Celery's default).
DEFAULT_REPLY_TIMEOUT = 1.0
#: The control command the workers answer (``compat.worker.inspect_commands.revoke``).
REVOKE_COMMAND = "revoke"


def tell_workers_revoked(app: Any, task_ids: Iterable[str], destination: Any = None, *, reply: bool = False,
                         timeout: float | None = 1.0) -> list[dict[str, Any]] | None:  # fmt: skip
    """Publish the ids to the workers (all, or ``destination``); with ``reply``, ``[{node: answer}, ...]`` of
    those answering within ``timeout`` (None: Celery's 1 s), else nothing is awaited."""
    ids = [str(task_id) for task_id in task_ids]
    if not ids:
        return [] if reply else None
    targets = [destination] if isinstance(destination, str) else destination
    wait = (DEFAULT_REPLY_TIMEOUT if timeout is None else timeout) if reply else 0.0
    replies = app.__taskora_app__.broadcast(REVOKE_COMMAND, args={"task_id": ids}, timeout=wait,
                                            destination=targets or None)  # fmt: skip
    return [{host: answer} for host, answer in sorted(replies.items())] if reply else None


def mark_unstarted_revoked(app: Any, task_ids: Iterable[str]) -> None:
    """Store REVOKED for ids that have no job, unless their stored state says they finished or started elsewhere
    (STARTED or a custom state: that worker owns the state), as Celery 5.7's worker does on a revoke."""
    backend = app.backend
    for task_id in task_ids:
        if backend.get_state(task_id) in NOT_STARTED_STATES:
            backend.mark_as_revoked(task_id, reason="revoked")
