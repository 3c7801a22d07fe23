"""Jobs too new for a worker: a job stamped with a payload version ``_v`` above the version of the worker's task
was dispatched by newer code (a rolling deploy, a rollback). As the TypeScript taskora does, the worker never
runs nor fails it: it hands it back, uncharged, for a newer worker.

Unlike a plain requeue, the job is delayed by a backoff that doubles each time an old worker meets it again
(``BASE_MS`` up to ``CAP_MS``), so an old worker alone with a queue of newer jobs does not spin on them nor
starve the older jobs behind them; and every worker whose task version is above 1 takes such jobs of its
version or older back to waiting about once a second (``take_back``, from its maintenance), so a newer worker
runs them as soon as it is up. The first such job of each version is logged at warning level once per
process; ``app.inspect().migrations(task).newer`` counts them meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapters.base import Adapter, ClaimedJob
    from .task import Task

log = logging.getLogger("taskora.worker")

#: The first backoff of a job put back for a newer worker, and the longest one.
BASE_MS = 1000
CAP_MS = 60_000
#: Parked jobs one ``take_back`` call moves back per task at most (the rest follow on the next round).
TAKE_BACK_LIMIT = 1000

_warned: set[tuple[str, int]] = set()
_warned_lock = threading.Lock()


def is_too_new(task: Task[Any, Any], job_version: int) -> bool:
    """True when a job stamped ``job_version`` needs code newer than this worker's version of ``task``."""
    return job_version > task.io.versions.version


def leave_for_newer_worker(adapter: Adapter, task: Task[Any, Any], job: ClaimedJob, job_version: int) -> int | None:
    """Hand ``job`` back for a newer worker (delayed by the backoff, its attempt not counted); returns the delay
    in ms, or None when the job's lock was no longer this worker's (another owner decides its fate)."""
    worker_version = task.io.versions.version
    delay = adapter.park_newer(job, worker_version, BASE_MS, CAP_MS)
    if delay is not None and _first_time(task.name, job_version):
        log.warning("job %s (%s) has payload version %d, newer than this worker's version %d: left for a newer "
                    "worker (not run, not failed; this worker looks again after a backoff of up to %ds). Further "
                    "v%d jobs of %s are left the same way without this warning; app.inspect().migrations(%r) "
                    "counts them", job.id, task.name, job_version, worker_version, CAP_MS // 1000, job_version,
                    task.name, task.name)  # fmt: skip
    return delay


def take_back(adapter: Adapter, tasks: Iterable[Task[Any, Any]]) -> int:
    """Move the jobs left for a newer worker that this worker's version of each task can run back to waiting;
    a task at version 1 has none (no job is stamped below 1). Returns how many jobs moved."""
    moved = 0
    for task in tasks:
        version = task.io.versions.version
        if version > 1:
            moved += adapter.unpark_newer(task.name, version, TAKE_BACK_LIMIT)
    return moved


def _first_time(task: str, job_version: int) -> bool:
    with _warned_lock:
        if (task, job_version) in _warned:
            return False
        _warned.add((task, job_version))
        return True
