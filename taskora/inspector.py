"""Read-only views of the queues (``app.inspect()``) and the dead-letter queue (``app.dead_letters``).

Both are views over the per-state sets the engine already keeps: nothing extra is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError, UnknownTaskError
from .flow_control import user_key

if TYPE_CHECKING:
    from .app import Taskora
    from .migration_status import MigrationStatus

STATES = ("waiting", "active", "delayed", "completed", "failed", "expired", "cancelled")
#: Most jobs one ``jobs``/``list_ids`` call returns: a page, not an export (each job is one read).
MAX_PAGE = 1000


def check_page(state: str, limit: int, offset: int) -> None:
    """ConfigurationError naming what is wrong with a page request (nothing is read then)."""
    if state not in STATES:
        raise ConfigurationError(f"unknown state {state!r}; states: {', '.join(STATES)}")
    if not _is_int(limit) or not 1 <= limit <= MAX_PAGE:
        raise ConfigurationError(f"limit must be an integer 1..{MAX_PAGE}, got {limit!r}")
    if not _is_int(offset) or offset < 0:
        raise ConfigurationError(f"offset must be an integer >= 0, got {offset!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class JobInfo:
    """One job as stored, decoded (the seeds' JobInfo)."""

    id: str
    task: str
    state: str | None
    data: Any = None
    result: Any = None
    error: str | None = None
    progress: Any = None
    attempt: int = 0
    version: int = 1
    timestamp: int = 0
    processed_on: int | None = None
    finished_on: int | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    concurrency_key: str | None = None  # its per-key concurrency slot (taskora.concurrency), if any
    concurrency_limit: int | None = None
    expire_at: int | None = None  # epoch ms its ttl ends at, if it has one (taskora.ttl)
    #: The deduplicate key the job was dispatched with (its ``dedupKey``, without the task's key prefix).
    dedup_key: str | None = None

    @property
    def timeline(self) -> list[tuple[str, int]]:
        """(what, epoch ms) pairs rebuilt from the job's timestamps."""
        points = [("dispatched", self.timestamp), ("started", self.processed_on), ("finished", self.finished_on)]
        return [(name, at) for name, at in points if at]


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


class Inspector:
    """Job lists per state, lookups by id and counts, across the app's tasks or for one task."""

    def __init__(self, app: Taskora) -> None:
        self.app = app

    def _task_names(self, task: str | None) -> list[str]:
        if task is None:
            return list(self.app.tasks)
        self.app.get_task(task)  # a clear error for an unknown name
        return [task]

    def jobs(self, state: str, *, task: str | None = None, limit: int = 50, offset: int = 0) -> list[JobInfo]:
        """One page of jobs in ``state`` (see ``list_ids`` for the order and the bounds)."""
        return [info for name, job_id in self._page(state, task, limit, offset)
                if (info := self.job(name, job_id)) is not None]  # fmt: skip

    def list_ids(self, state: str, *, task: str | None = None, limit: int = 50, offset: int = 0) -> list[str]:
        """Ids of one page of jobs in ``state``: task after task in name order, each in claim order for
        ``waiting`` and newest first for finished states. Reads only the page (a task's count tells whether
        the page starts past it), never a whole queue: ``limit`` is 1..MAX_PAGE, ``offset`` >= 0."""
        return [job_id for _name, job_id in self._page(state, task, limit, offset)]

    def _page(self, state: str, task: str | None, limit: int, offset: int) -> list[tuple[str, str]]:
        check_page(state, limit, offset)
        names = self._task_names(task)
        found: list[tuple[str, str]] = []
        for name in names:
            if len(found) == limit:
                break
            if len(names) > 1:  # skip whole tasks the page starts past, by their counts (no ids read)
                total = self.app.adapter.counts(name)[state]
                if offset >= total:
                    offset -= total
                    continue
            stop = offset + limit - len(found) - 1
            found += [(name, job_id) for job_id in self._slice(name, state, offset, stop)]
            offset = 0
        return found

    def _slice(self, task: str, state: str, start: int, stop: int) -> list[str]:
        if state == "waiting":  # the priority zset then the FIFO list, reading only the slice
            return self.app.adapter.waiting_ids(task, start, stop)
        return self.app.adapter.list_ids(task, state, start, stop)

    def waiting(self, **kw: Any) -> list[JobInfo]:
        return self.jobs("waiting", **kw)

    def active(self, **kw: Any) -> list[JobInfo]:
        return self.jobs("active", **kw)

    def delayed(self, **kw: Any) -> list[JobInfo]:
        return self.jobs("delayed", **kw)

    def completed(self, **kw: Any) -> list[JobInfo]:
        return self.jobs("completed", **kw)

    def failed(self, **kw: Any) -> list[JobInfo]:
        return self.jobs("failed", **kw)

    def expired(self, **kw: Any) -> list[JobInfo]:
        return self.jobs("expired", **kw)

    def cancelled(self, **kw: Any) -> list[JobInfo]:
        return self.jobs("cancelled", **kw)

    def stats(self, *, task: str | None = None) -> dict[str, int]:
        """Job counts per state, summed over the app's tasks (or for ``task``)."""
        totals = dict.fromkeys(STATES, 0)
        for name in self._task_names(task):
            for state, count in self.app.adapter.counts(name).items():
                totals[state] += count
        return totals

    def migrations(self, task: str) -> MigrationStatus:
        """Waiting and delayed jobs of ``task`` per payload version, and the ``since`` it is safe to raise to
        (a MigrationStatus, taskora/migration_status.py)."""
        from .migration_status import migration_status

        return migration_status(self.app, task)

    def throughput(self, task: str | None = None, minutes: int = 60) -> list[dict[str, int]]:
        """Jobs completed and failed per minute over the last ``minutes`` minutes, oldest first, from the
        engine's per-minute counters (kept 24 h): ``{"minute": epoch ms, "completed": n, "failed": n}``."""
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 1440:
            raise ConfigurationError(f"throughput minutes must be an int from 1 to 1440 (the counters' 24 h), "
                                     f"got {minutes!r}")
        merged: dict[int, list[int]] = {}
        for name in self._task_names(task):
            for minute, completed, failed in self.app.adapter.throughput(name, minutes):
                row = merged.setdefault(minute, [0, 0])
                row[0] += completed
                row[1] += failed
        return [{"minute": m, "completed": c, "failed": f} for m, (c, f) in sorted(merged.items())]

    def find(self, job_id: str, *, task: str | None = None) -> JobInfo | None:
        """A job by id; searches every registered task unless ``task`` is given."""
        name = task if task is not None else self.app.adapter.find_task_of(job_id, list(self.app.tasks))
        return None if name is None else self.job(name, job_id)

    def job(self, task: str, job_id: str) -> JobInfo | None:
        raw = self.app.adapter.get_job(task, job_id)
        if raw is None:
            return None
        loads = self.app.serializer.loads
        return JobInfo(
            id=job_id, task=task, state=raw.get("state"),
            data=loads(raw["data"]) if raw.get("data") is not None else None,
            result=loads(raw["result"]) if raw.get("result") is not None else None,
            error=raw.get("error"),
            progress=loads(raw["progress"]) if raw.get("progress") is not None else None,
            attempt=int(raw.get("attempt", 0)), version=int(raw.get("_v", 1)), timestamp=int(raw.get("ts", 0)),
            processed_on=_int(raw.get("processedOn")), finished_on=_int(raw.get("finishedOn")),
            logs=[json.loads(line) for line in self.app.adapter.get_logs(task, job_id)],
            concurrency_key=raw.get("concurrencyKey") or None, concurrency_limit=_int(raw.get("concurrencyLimit")),
            expire_at=_int(raw.get("expireAt")),
            dedup_key=user_key(self.app.adapter.flow_key(task, "deduplicate", ""), raw.get("dedupKey")),
        )  # fmt: skip


class DeadLetters:
    """The failed jobs, as a queue you can read and retry from (``app.dead_letters``)."""

    BATCH = 100

    def __init__(self, app: Taskora) -> None:
        self.app = app
        self._inspector = Inspector(app)

    def list(self, *, task: str | None = None, limit: int = 50, offset: int = 0) -> list[JobInfo]:
        return self._inspector.failed(task=task, limit=limit, offset=offset)

    def retry(self, job_id: str, *, task: str | None = None) -> bool:
        """Requeue one failed job with a fresh attempt count; False if it is not failed (any more)."""
        name = task if task is not None else self.app.adapter.find_task_of(job_id, list(self.app.tasks))
        if name is None:
            raise UnknownTaskError(f"no registered task holds job {job_id!r}")
        return self.app.adapter.retry_failed(name, [job_id]) == 1

    def retry_all(self, *, task: str | None = None) -> int:
        """Requeue every failed job (of ``task``, or of every task), in batches; returns how many."""
        total = 0
        for name in self._inspector._task_names(task):
            while True:
                ids = self.app.adapter.list_ids(name, "failed", 0, self.BATCH - 1)
                moved = self.app.adapter.retry_failed(name, ids)
                total += moved
                if len(ids) < self.BATCH or moved == 0:
                    break
        return total
