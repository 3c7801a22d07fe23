"""Payload versions in Redis: counting the ``_v`` of a task's waiting or delayed jobs (the inspector's
``migrations()``), and leaving a job stamped newer than a worker's code for a newer worker (lua/park_newer.lua,
lua/claim_newer.lua), so a rolling deploy neither fails nor loses such jobs."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from .reads import JobReads
from .replies import _claim_reply

if TYPE_CHECKING:
    from .base import ClaimedJob, ClaimResult

#: Ids one ``count_versions`` call reads at most: a few ms of Redis' time, so counting a queue of a
#: million jobs never holds other clients up for longer than that at a time.
CHUNK = 2000

#: The queue keys a state's jobs sit in, and how each is read by index.
_STATE_KEYS = {"waiting": (("prioritized", "zset"), ("wait", "list")), "delayed": (("delayed", "zset"),)}


class VersionReads(JobReads):
    """Counts of ``_v`` over one state's jobs, and the park/unpark transitions of jobs too new for a worker."""

    def job_versions(self, task: str, state: str) -> dict[int, int]:
        """``{version: jobs}`` over the ``state`` ("waiting" or "delayed") jobs of ``task``; a job hash without
        ``_v`` counts as version 1, a ``_v`` that is no number as version 0."""
        if state not in _STATE_KEYS:
            raise ValueError(f"job_versions counts 'waiting' or 'delayed' jobs, not {state!r}")
        counts: Counter[int] = Counter()
        prefix = self.keys.task_prefix(task)
        for name, kind in _STATE_KEYS[state]:
            key, first = self.keys.state_set(task, name), 0
            while True:
                reply = self.scripts.count_versions(self.runner, [key], [prefix, kind, first, CHUNK])
                read, pairs = int(reply[0]), reply[1:]
                counts.update({int(pairs[i]): int(pairs[i + 1]) for i in range(0, len(pairs), 2)})
                first += read
                if read < CHUNK:
                    break
        return dict(counts)

    def park_newer(self, job: ClaimedJob, worker_version: int, base_ms: int, cap_ms: int) -> int | None:
        """Put back ``job``, held by this caller and stamped with a ``_v`` above ``worker_version``: delayed by
        ``base_ms`` doubled per earlier park (at most ``cap_ms``), its attempt not counted. Returns the delay,
        or None when the job was not held (its lock lapsed) or is not newer (nothing changed)."""
        keys = [*self.keys.queue(job.task), self._newer_key(job.task)]
        args = [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token, worker_version, base_ms, cap_ms]
        reply = self.scripts.park_newer(self.runner, keys, args)
        return int(reply[1]) if int(reply[0]) == 1 else None

    def claim_newer(self, task: str, token: str, lock_ttl_ms: int, worker_version: int,
                    limit: int = 100) -> ClaimResult:
        """Claim a job parked for a worker of ``worker_version`` or newer, in one script (never through the
        shared waiting list); without one that can start now, the plain claim (``claim``)."""
        keys = [*self.keys.queue(task), self._newer_key(task)]
        args = [self.keys.task_prefix(task), self.now_ms(), token, lock_ttl_ms, worker_version, limit]
        return _claim_reply(task, token, self.scripts.claim_newer(self.runner, keys, args))

    def count_parked(self, task: str, worker_version: int) -> int:
        """How many jobs are parked for a worker of ``worker_version`` or newer (stale entries included)."""
        return int(self.client.zcount(self._newer_key(task), "-inf", worker_version))

    def _newer_key(self, task: str) -> str:
        return self.keys.task_prefix(task) + "newer"
