"""Jobs too new for a worker: a job stamped with a payload version ``_v`` above the version of the worker's task
was dispatched by newer code (a rolling deploy, a rollback). As the TypeScript taskora does, the worker never
runs nor fails it: it hands it back, uncharged, for a newer worker.

Unlike a plain requeue, the job is *parked*: delayed by a backoff that doubles each time an old worker meets it
again (``BASE_MS`` up to ``CAP_MS``), so an old worker alone with a queue of newer jobs does not spin on them nor
starve the older jobs behind them, and noted in the task's NEWER index. A worker whose task version is above 1
looks at that index about once a second (``ParkedJobs.look``, from its maintenance); while jobs of its version
or older are parked there, its slots claim through ``claim_newer`` (one script: such a job goes straight from
parked to active under this worker's lock, never through the shared waiting list where an old worker would
claim it and park it again), and a busy slot claims its next job that way too instead of in its fused finish.
Slots fed by a feeder (``concurrency`` >= 8) keep their batch claims: a job parked meanwhile reaches them when
its backoff ends. The first such job of each version is logged at warning level once per process;
``app.inspect().migrations(task).newer`` counts them meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapters.base import Adapter, ClaimedJob, ClaimResult
    from .task import Task

log = logging.getLogger("taskora.worker")

#: The first backoff of a job put back for a newer worker, and the longest one.
BASE_MS = 1000
CAP_MS = 60_000
#: Index entries one ``claim_newer`` call looks at, at most (stale ones are dropped on the way).
LOOK_LIMIT = 100
#: Wakes per task and round while jobs are parked for a worker: the blocked slots of every worker of the task
#: take them, the longest waiting first (old workers' among them: each costs them one empty claim), so several
#: reach this worker's idle slots too; a slot not woken looks again within idle.MAX_BLOCK_S.
WAKES = 16

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


class ParkedJobs:
    """Which of a worker's tasks have jobs parked for its version (or an older one), and claims them first.

    Invariant: a task is flagged from the round its maintenance saw such a job until a round sees none; while
    flagged, every claim of its slots outside a feeder goes through ``claim_newer``, so such a job is claimed by
    a worker that can run it, never moved where any worker claims.
    """

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self._flagged: set[str] = set()

    def look(self, tasks: Iterable[Task[Any, Any]]) -> int:
        """Flag each task (of version > 1: no job is stamped below 1) with jobs parked for this worker, and wake
        its idle slots (blocked on the task's marker). Returns how many are parked."""
        parked = 0
        for task in tasks:
            version = task.io.versions.version
            count = self.adapter.count_parked(task.name, version) if version > 1 else 0
            if count:
                self._flagged.add(task.name)
                self.adapter.wake_workers(task.name, WAKES)
            else:
                self._flagged.discard(task.name)
            parked += count
        return parked

    def waiting_for(self, task: Task[Any, Any]) -> bool:
        """Whether ``task`` has jobs parked for this worker (its slots then claim through ``claim``)."""
        return bool(self._flagged) and task.name in self._flagged

    def claim(self, task: Task[Any, Any], token: str, lock_ttl_ms: int) -> ClaimResult:
        """The next job for a slot of ``task``: a job parked for this worker first, else the plain claim."""
        if self.waiting_for(task):
            return self.adapter.claim_newer(task.name, token, lock_ttl_ms, task.io.versions.version, LOOK_LIMIT)
        return self.adapter.claim(task.name, token, lock_ttl_ms)


def _first_time(task: str, job_version: int) -> bool:
    with _warned_lock:
        if (task, job_version) in _warned:
            return False
        _warned.add((task, job_version))
        return True
