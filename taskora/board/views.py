"""What the board shows, as JSON-ready dicts: built from the Inspector, the schedule manager and the
adapter's named reads only, with no web framework in sight (the bench and the tests call these directly).

Pages read a bounded slice of the store whatever its size: a task's job list is one ZREVRANGE/LRANGE of
``limit`` ids from ``offset`` plus one hash read per shown job, so a million completed jobs cost what ten do.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, UnknownTaskError
from ..inspector import STATES, Inspector, JobInfo
from ..urls import mask_url

if TYPE_CHECKING:
    from ..app import Taskora

#: Most jobs one page lists.
MAX_PAGE = 200
#: How long a worker has to answer the overview's ping (seconds); all answered returns at once.
PING_TIMEOUT = 0.3


def overview(app: Taskora, *, minutes: int = 60) -> dict[str, Any]:
    """Per-task counts by state, their totals, throughput per minute, and the workers that answer a ping."""
    tasks = {name: app.adapter.counts(name) for name in sorted(app.tasks)}
    totals = dict.fromkeys(STATES, 0)
    for counts in tasks.values():
        for state, count in counts.items():
            totals[state] += count
    return {
        "broker": mask_url(app.adapter.address),
        "tasks": tasks,
        "totals": totals,
        "throughput": Inspector(app).throughput(minutes=minutes) if app.tasks else [],
        "workers": sorted(app.broadcast("ping", timeout=PING_TIMEOUT)),
    }


def task_jobs(app: Taskora, task: str, state: str, *, offset: int = 0, limit: int = 50) -> dict[str, Any]:
    """One page of ``task``'s jobs in ``state`` (newest first for finished states) and the task's counts."""
    _check_task(app, task)
    if state not in STATES:
        raise ConfigurationError(f"unknown state {state!r}; states: {', '.join(STATES)}")
    if not 0 <= offset or not 1 <= limit <= MAX_PAGE:
        raise ConfigurationError(f"offset must be >= 0 and limit 1..{MAX_PAGE}, got offset={offset} limit={limit}")
    ids = app.adapter.list_ids(task, state, offset, offset + limit - 1)
    inspector = Inspector(app)
    jobs = [summary(info) for info in (inspector.job(task, i) for i in ids) if info is not None]
    counts = app.adapter.counts(task)
    return {"task": task, "state": state, "offset": offset, "limit": limit, "counts": counts, "jobs": jobs,
            "total": counts[state], "throughput": inspector.throughput(task=task, minutes=60)}


def summary(info: JobInfo) -> dict[str, Any]:
    """A job's row in a list: no payloads (a list of large payloads would make the page slow)."""
    return {"id": info.id, "task": info.task, "state": info.state, "attempt": info.attempt,
            "timestamp": info.timestamp, "finishedOn": info.finished_on, "error": info.error}


def job_detail(app: Taskora, job_id: str, task: str | None = None) -> dict[str, Any] | None:
    """Everything about one job: payloads, error with its traceback, logs, progress, attempts, timeline."""
    if task is not None:
        _check_task(app, task)
    info = Inspector(app).find(job_id, task=task)
    if info is None:
        return None
    raw = app.adapter.get_job(info.task, job_id) or {}
    detail = {**summary(info), "data": _shown(info.data), "result": _shown(info.result),
              "progress": _shown(info.progress), "logs": info.logs, "version": info.version,
              "maxAttempts": _int_or_none(raw.get("maxAttempts")), "timeline": info.timeline,
              "traceback": _traceback(raw.get("errorDetail")), "workflow": _text_or_none(raw.get("_wf")),
              "workflowNode": _int_or_none(raw.get("_wfNode"))}
    return detail


def dead_letters(app: Taskora, *, task: str | None = None, limit: int = 50) -> dict[str, Any]:
    """The newest failed jobs (of ``task`` or every task), grouped by error text, most frequent first."""
    if task is not None:
        _check_task(app, task)
    jobs = [summary(info) for info in app.dead_letters.list(task=task, limit=min(limit, MAX_PAGE))]
    groups: dict[str, int] = {}
    for job in jobs:
        groups[job["error"] or ""] = groups.get(job["error"] or "", 0) + 1
    total = sum(app.adapter.counts(name)["failed"] for name in ([task] if task else app.tasks))
    return {"jobs": jobs, "total": total,
            "groups": [{"error": e, "count": n} for e, n in sorted(groups.items(), key=lambda kv: -kv[1])]}


def schedules(app: Taskora) -> list[dict[str, Any]]:
    """Every stored schedule: its timing, task, next run (None when paused) and last run."""
    return [info.to_dict() for info in app.schedules.list()]


def _check_task(app: Taskora, task: str) -> None:
    if task not in app.tasks:
        raise UnknownTaskError(f"no task named {task!r} is registered on this app")


def _shown(value: Any) -> Any:
    """A decoded payload as JSON can carry it (anything else as its repr)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _traceback(detail: Any) -> str | None:
    if not detail:
        return None
    try:
        return str(json.loads(detail).get("traceback") or "") or None
    except (ValueError, AttributeError):
        return None


def _int_or_none(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def _text_or_none(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else (str(value) if value else None)
