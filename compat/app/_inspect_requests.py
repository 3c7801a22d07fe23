"""The Celery shapes of ``inspect()`` answers: request dicts, scheduled entries and worker stats.

Monitoring tools (Flower, dashboards, Celery's own suite) compare these dicts key by key, so each
carries exactly the keys Celery's ``Request.info()`` and ``WorkController.stats()`` give, with the
values a Redis broker gives: the default exchange ``''``, the priority as sent (``0`` when none was),
``redelivered`` False.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ETA_TIMER_PRIORITY", "request_info", "scheduled_entry", "celery_stats", "celery_name"]

#: The priority Celery's worker gives every ETA entry of its timer (what ``scheduled()`` reports).
ETA_TIMER_PRIORITY = 6


def celery_name(engine_name: str) -> str:
    """The Celery task name of an engine task (per-queue twins are ``"<queue>::<name>"``)."""
    return engine_name.rpartition("::")[2]


def request_info(app: Any, engine_name: str, job_id: str, hostname: str, *, time_start: float | None = None,
                 acknowledged: bool | None = None, worker_pid: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Celery's ``Request.info()`` for one job: what ``active``, ``reserved``, ``scheduled`` and ``query_task`` list.

    ``acknowledged`` defaults to Celery's rule for a running task: acknowledged unless the task acks late.
    """
    return _info(app, *_read(app, engine_name, job_id), hostname, time_start=time_start,
                 acknowledged=acknowledged, worker_pid=worker_pid)


def scheduled_entry(app: Any, engine_name: str, job_id: str, hostname: str, due_ms: Any) -> dict[str, Any]:
    """One ``scheduled()`` entry: the ETA as the caller sent it (microseconds kept), held unacknowledged."""
    result, job = _read(app, engine_name, job_id)
    request = _info(app, result, job, hostname, time_start=None, acknowledged=False, worker_pid=None)
    return {"eta": _text(job.get("celery.eta")) or _iso(due_ms), "priority": ETA_TIMER_PRIORITY, "request": request}


def _read(app: Any, engine_name: str, job_id: str) -> tuple[Any, dict[str, Any]]:
    """The job's result handle and its stored fields, read once."""
    from ..result import AsyncResult

    result = AsyncResult(job_id, app=app, engine_task=engine_name)
    return result, result._fields() or {}


def _info(app: Any, result: Any, job: dict[str, Any], hostname: str, *, time_start: float | None,
          acknowledged: bool | None, worker_pid: int | None) -> dict[str, Any]:  # fmt: skip
    name = result.name or celery_name(result._engine_task or "")
    if acknowledged is None:
        acknowledged = not getattr(app.tasks.get(name), "acks_late", False)
    delivery_info = {"exchange": "", "routing_key": result.queue, "priority": _sent_priority(job),
                     "redelivered": False}  # fmt: skip
    return {"id": result.id, "name": name, "args": result.args, "kwargs": result.kwargs, "type": name,
            "hostname": hostname, "time_start": time_start, "acknowledged": acknowledged,
            "delivery_info": delivery_info, "worker_pid": worker_pid}  # fmt: skip


def celery_stats(host: str, reply: Any) -> Any:
    """A worker's stats with the keys Celery monitoring reads (``pid``, ``uptime``, ``pool``, ``total``).

    ``pool.processes`` lists the pids that run tasks: a prefork worker's children, else the worker itself
    (solo and threads run tasks in its process).
    """
    if not isinstance(reply, dict) or "error" in reply:
        return reply
    children = reply.get("children")
    processes = [child["pid"] for child in children] if children else [reply.get("pid")]
    pool = {"implementation": reply.get("pool"), "max-concurrency": reply.get("concurrency"),
            "processes": processes}  # fmt: skip
    return {**reply, "uptime": round(float(reply.get("uptime_s") or 0)), "pool": pool,
            "total": {"processed": reply.get("processed", 0)},
            "broker": {"hostname": reply.get("broker"), "transport": "redis"}}  # fmt: skip


def _sent_priority(job: dict[str, Any]) -> int:
    raw = _text(job.get("celery.priority"))
    try:
        return int(raw) if raw else 0
    except ValueError:
        return 0


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso(epoch_ms: Any) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(epoch_ms) / 1000, tz=timezone.utc).isoformat()
