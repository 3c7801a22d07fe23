"""Telling live workers which task ids were revoked, as Celery's ``revoke`` broadcast does.

taskora cancels the job itself in the store, so no worker needs the message to stop the task. Workers
keep the ids all the same (``celery.worker.state.revoked``), because Celery users read them back with
``inspect().revoked()``, and an id revoked after its task finished is only known that way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["REVOKE_COMMAND", "tell_workers_revoked"]

#: The control command the workers answer (``compat.worker.inspect_commands.revoke``).
REVOKE_COMMAND = "revoke"


def tell_workers_revoked(app: Any, task_ids: Iterable[str], destination: Any = None) -> None:
    """Publish the ids to the workers (all, or ``destination``) without waiting for answers."""
    ids = [str(task_id) for task_id in task_ids]
    if not ids:
        return
    targets = [destination] if isinstance(destination, str) else destination
    app.__taskora_app__.broadcast(REVOKE_COMMAND, args={"task_id": ids}, timeout=0.0, destination=targets or None)
