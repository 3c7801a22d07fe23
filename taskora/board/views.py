"""What the board shows, as JSON-ready dicts: built from the Inspector, the schedule manager and the
adapter's named reads only, with no web framework in sight (the bench and the tests call these directly).

Pages read a bounded slice of the store whatever its size: a task's job list is one ZREVRANGE/LRANGE of
``limit`` ids from ``offset`` plus one hash read per shown job, so a million completed jobs cost what ten do.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, UnknownTaskError
from ..inspector import STATES, Inspector, JobInfo
from ..migration_status import MigrationStatus
from ..urls import mask_url
from ..workflow.inspect import list_workflows, show_workflow
from .shared_reads import SharedReads

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.board")

#: Most jobs one page lists.
MAX_PAGE = 200
#: How long a worker has to answer the overview's ping (seconds); all answered returns at once.
PING_TIMEOUT = 0.3


class WorkerRoster:
    """The workers that answer a ping, asked at most once per ``ttl_s`` however many pages refresh (every
    open page re-reads the overview when events arrive; the workers should not be pinged for each).

    Only the first call waits for the ping. Later ones answer at once from the last ping and, when it is
    older than ``ttl_s``, ask again in the background: a ping waits up to PING_TIMEOUT for workers that
    do not answer, and no page load should wait for that (it was the overview's slowest 5 %)."""

    def __init__(self, app: Taskora, ttl_s: float = 5.0) -> None:
        self.app, self.ttl_s = app, ttl_s
        self._lock = threading.Lock()
        self._asked_at = -math.inf
        self._refreshing = False
        self._online: list[str] = []

    def online(self) -> list[str]:
        with self._lock:
            if self._asked_at == -math.inf:
                self._online, self._asked_at = self._ping(), time.monotonic()
            elif time.monotonic() - self._asked_at >= self.ttl_s and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="taskora-board-roster", daemon=True).start()
            return list(self._online)

    def _ping(self) -> list[str]:
        return sorted(self.app.broadcast("ping", timeout=PING_TIMEOUT))

    def _refresh(self) -> None:
        try:
            online = self._ping()
        except Exception as exc:  # a thread of its own: the next page load asks again
            log.warning("board: pinging the workers failed (%s: %s); showing the last answer", type(exc).__name__, exc)
            online = None
        with self._lock:
            if online is not None:
                self._online, self._asked_at = online, time.monotonic()
            self._refreshing = False


def overview(app: Taskora, *, minutes: int = 60, roster: WorkerRoster | None = None,
             shared: SharedReads | None = None) -> dict[str, Any]:  # fmt: skip
    """Per-task counts by state, their totals, throughput per minute, and the workers that answer a ping.
    With ``shared`` the counts and throughput are read at most once per its ttl for every page (shared_reads.py)."""
    read = functools.partial(_overview_counts, app, minutes)
    counted = shared.get(("overview", minutes), read) if shared is not None else read()
    return {"broker": mask_url(app.adapter.address), **counted, "workers": (roster or WorkerRoster(app)).online()}


def _overview_counts(app: Taskora, minutes: int) -> dict[str, Any]:
    tasks = {name: app.adapter.counts(name) for name in sorted(app.tasks)}
    totals = dict.fromkeys(STATES, 0)
    for counts in tasks.values():
        for state, count in counts.items():
            totals[state] += count
    throughput = Inspector(app).throughput(minutes=minutes) if app.tasks else []
    return {"tasks": tasks, "totals": totals, "throughput": throughput}


def task_jobs(app: Taskora, task: str, state: str, *, offset: int = 0, limit: int = 50) -> dict[str, Any]:
    """One page of ``task``'s jobs in ``state`` (newest first for finished states) and the task's counts."""
    _check_task(app, task)
    if state not in STATES:
        raise ConfigurationError(f"unknown state {state!r}; states: {', '.join(STATES)}")
    if not 0 <= offset or not 1 <= limit <= MAX_PAGE:
        raise ConfigurationError(f"offset must be >= 0 and limit 1..{MAX_PAGE}, got offset={offset} limit={limit}")
    jobs = _rows(app, task, _page_ids(app, task, state, offset, offset + limit - 1))
    counts = app.adapter.counts(task)
    return {"task": task, "state": state, "offset": offset, "limit": limit, "counts": counts, "jobs": jobs,
            "total": counts[state], "throughput": Inspector(app).throughput(task=task, minutes=60)}


#: The hash fields a list row shows (no payloads: a page of large payloads would be slow).
ROW_FIELDS = ("state", "attempt", "ts", "finishedOn", "error")


def _page_ids(app: Taskora, task: str, state: str, start: int, stop: int) -> list[str]:
    """The ids a page shows, reading only that slice of the state's list or set."""
    if state == "waiting":
        return app.adapter.waiting_ids(task, start, stop)
    return app.adapter.list_ids(task, state, start, stop)


def _rows(app: Taskora, task: str, ids: list[str]) -> list[dict[str, Any]]:
    """List rows of ``ids`` from one pipelined read; a job deleted since its id was listed is left out."""
    rows = app.adapter.job_rows(task, ids, ROW_FIELDS)
    return [{"id": job_id, "task": task, "state": raw["state"], "attempt": int(raw["attempt"] or 0),
             "timestamp": int(raw["ts"] or 0), "finishedOn": _int_or_none(raw["finishedOn"]), "error": raw["error"]}
            for job_id, raw in zip(ids, rows, strict=True) if raw is not None]


def summary(info: JobInfo) -> dict[str, Any]:
    """A job's row in a list: no payloads (a list of large payloads would make the page slow)."""
    return {"id": info.id, "task": info.task, "state": info.state, "attempt": info.attempt,
            "timestamp": info.timestamp, "finishedOn": info.finished_on, "error": info.error}


def job_detail(app: Taskora, job_id: str, task: str | None = None,
               redact: Callable[[Any], Any] = lambda value: value) -> dict[str, Any] | None:  # fmt: skip
    """Everything about one job: payloads (through ``redact``), error with its traceback, logs, progress,
    attempts, timeline."""
    if task is not None:
        _check_task(app, task)
    info = Inspector(app).find(job_id, task=task)
    if info is None:
        return None
    raw = app.adapter.get_job(info.task, job_id) or {}
    detail = {**summary(info), "data": redact(_shown(info.data)), "result": redact(_shown(info.result)),
              "progress": redact(_shown(info.progress)), "logs": redact(info.logs), "version": info.version,
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


def workflows(app: Taskora, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest workflows: id, name, state, node count, created/finished (ms)."""
    return list_workflows(app, limit=min(max(limit, 1), MAX_PAGE))


def workflow(app: Taskora, wf_id: str) -> dict[str, Any] | None:
    """One workflow with its nodes (task, job id, deps, state) and each node's layer for drawing the DAG:
    a root is layer 0, any other node one more than its deepest dependency."""
    shown = show_workflow(app, wf_id)
    if shown is None:
        return None
    for node, layer in zip(shown["nodes"], _layers(shown["nodes"]), strict=True):
        node["layer"] = layer
    return {key: shown[key] for key in ("id", "name", "state", "error", "created_at", "nodes")} | {
        "result": _shown(shown["result"])}


def versions(app: Taskora, task: str | None = None) -> dict[str, Any]:
    """Per task (or only ``task``): its payload ``version`` and ``since``, its waiting and delayed jobs per
    version, and ``canBumpSince``, the highest ``since`` no queued job would fall below (``raisable`` when that
    is above the current one). Reads every queued job's ``_v``: a page for the operator planning a bump."""
    names = [task] if task is not None else sorted(app.tasks)
    for name in names:
        _check_task(app, name)
    return {"tasks": [_version_row(Inspector(app).migrations(name)) for name in names]}


def _version_row(status: MigrationStatus) -> dict[str, Any]:
    return {"task": status.task, "version": status.version, "since": status.since, "migrations": status.migrations,
            "waiting": _by_version(status.queue.by_version), "delayed": _by_version(status.delayed.by_version),
            "newer": _by_version(status.newer),  # queued jobs waiting for a worker of a newer version
            "canBumpSince": status.can_bump_since, "raisable": status.can_bump_since > status.since}


def _by_version(counts: dict[int, int]) -> dict[str, int]:
    """JSON keys are strings: ``{"1": 3, "2": 10}``, lowest version first."""
    return {str(version): counts[version] for version in sorted(counts)}


def _layers(nodes: list[dict[str, Any]]) -> list[int]:
    """Each node's depth in the DAG: 0 for a root, else one more than its deepest dependency. Nodes come in
    dependency order (one pass settles it); further passes only run if some do not, up to one per node."""
    layer = {node["index"]: 0 for node in nodes}
    for _ in range(len(nodes)):
        changed = False
        for node in nodes:
            depth = 1 + max((layer.get(d, 0) for d in node["deps"]), default=-1)
            if depth != layer[node["index"]]:
                layer[node["index"]], changed = depth, True
        if not changed:
            break
    return [layer[node["index"]] for node in nodes]


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
