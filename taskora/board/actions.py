"""What the board's buttons do: each one is an engine operation the CLI and the Python API already offer
(retry from the dead letters, cancel, purge, schedule pause/resume/trigger), returning a JSON-ready outcome.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import cleaning
from ..errors import ConfigurationError, TaskoraError, UnknownTaskError
from ..workflow.handle import WorkflowHandle

if TYPE_CHECKING:
    from ..app import Taskora

#: The states a job may be deleted in (lua/delete_finished.lua); any other is cancelled instead.
FINISHED_STATES = ("completed", "failed", "expired", "cancelled")
#: Jobs deleted per engine call when purging the dead letters (one short script call each).
PURGE_BATCH = 1000


class JobStateConflict(TaskoraError):
    """The action does not apply to the job in the state it is in (answered with 409)."""


def _owner(app: Taskora, job_id: str) -> str:
    task = app.adapter.find_task_of(job_id, list(app.tasks))
    if task is None:
        raise UnknownTaskError(f"no registered task holds job {job_id!r}")
    return task


def retry_job(app: Taskora, job_id: str) -> dict[str, Any]:
    """Requeue one failed job with a fresh attempt count (refused when it is not failed any more)."""
    task = _owner(app, job_id)
    return {"id": job_id, "task": task, "retried": app.dead_letters.retry(job_id, task=task)}


def cancel_job(app: Taskora, job_id: str) -> dict[str, Any]:
    """Cancel a waiting/delayed job at once, or flag a running one for its worker to stop."""
    task = _owner(app, job_id)
    return {"id": job_id, "task": task, "outcome": app.handle(task, job_id).cancel("cancelled from the board")}


def delete_job(app: Taskora, job_id: str) -> dict[str, Any]:
    """Delete a finished job for good; a waiting, delayed or active one is refused (cancel it instead)."""
    task = _owner(app, job_id)
    state = app.adapter.delete_finished(task, job_id)
    if state is None:
        raise UnknownTaskError(f"job {job_id!r} is gone")
    if state not in FINISHED_STATES:
        raise JobStateConflict(f"job {job_id} is {state}: only finished jobs ({', '.join(FINISHED_STATES)}) "
                               "are deleted; cancel it first")
    return {"id": job_id, "task": task, "deleted": True, "state": state}


def retry_all(app: Taskora, task: str | None = None) -> dict[str, Any]:
    """Requeue every failed job (of ``task``, or of every task), in batches."""
    return {"retried": app.dead_letters.retry_all(task=task)}


def purge_dead_letters(app: Taskora, task: str | None = None) -> dict[str, Any]:
    """Delete the finished-unsuccessfully jobs (failed, and with them expired and cancelled: the engine's
    failed-retention set) of ``task`` or of every task; completed and pending jobs are kept."""
    names = [task] if task is not None else sorted(app.tasks)
    if task is not None:
        app.get_task(task)
    deleted = 0
    for name in names:
        while True:
            removed = app.adapter.trim(name, completed_age_ms=-1, completed_count=-1, failed_age_ms=-1,
                                       failed_count=0, batch=PURGE_BATCH)
            deleted += removed
            if removed < PURGE_BATCH:
                break
    return {"deleted": deleted}


def clean_by_age(app: Taskora, task: str, state: str, older_than: str | None, before_ms: int | None,
                 limit: int | None) -> dict[str, Any]:  # fmt: skip
    """Delete ``task``'s ``state`` jobs that finished before ``before_ms`` (TypeScript's ``before``) or more
    than ``older_than`` ago; with neither, every one (TypeScript's default, ``before`` = now)."""
    if older_than is not None and before_ms is not None:
        raise ConfigurationError("clean: give olderThan or before, not both")
    if older_than is not None and not older_than.strip():  # an emptied age box must not mean "every job"
        raise ConfigurationError("clean: olderThan is empty; give an age such as '1h', or '0' for every job")
    app.get_task(task)
    request = cleaning.make_request(task, app.adapter.now_ms(), state=state, older_than=older_than or 0,
                                    before_ms=before_ms, limit=limit)
    return {"ok": True, "task": task, "state": state, "count": cleaning.run(app.adapter, request)}


def purge_pending(app: Taskora, task: str) -> dict[str, Any]:
    """Delete ``task``'s waiting and delayed jobs (``taskora purge`` for one task)."""
    app.get_task(task)
    return {"task": task, "deleted": app.adapter.purge(task)}


def cancel_workflow(app: Taskora, wf_id: str) -> dict[str, Any]:
    """Cancel a running workflow: its pending nodes never run, its waiting ones are cancelled."""
    handle = WorkflowHandle(app, wf_id)
    if handle.state() is None:
        raise UnknownTaskError(f"no workflow {wf_id!r} is stored")
    return {"id": wf_id, "cancelled": handle.cancel("cancelled from the board")}


def schedule_action(app: Taskora, name: str, action: str) -> dict[str, Any]:
    """Pause, resume or trigger the stored schedule ``name``."""
    manager = app.schedules
    if action == "trigger":
        handle = manager.trigger(name)
        return {"name": name, "task": handle.task, "jobId": handle.id}
    if action not in ("pause", "resume"):
        raise ValueError(f"unknown schedule action {action!r}")
    result: dict[str, Any] = getattr(manager, action)(name).to_dict()
    return result
