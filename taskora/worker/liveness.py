"""Worker liveness: recover the jobs of a killed worker in seconds, not after its locks lapse.

A job's lock lasts ``stall.interval`` (30 s by default) so that a slow handler is never taken away; that
same lease made a killed worker's jobs wait out the whole interval. So each running worker also keeps a
short-lived liveness key (``taskora:alive:<worker id>``, refreshed every ``BEAT_EVERY_S``) and puts its id
in every lock token it takes. Every worker's reclaimer looks at the locks of active jobs: a token whose
worker has no liveness key belongs to a process that is gone, and the job goes back to the queue at once
(lua/reclaim.lua, only while that token still holds it). A slow handler's worker keeps beating, so its job
stays where it is. Tokens without a worker id (a TypeScript worker's, an embedded ``run_until_idle``)
are left to the ordinary stall sweep.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..adapters.base import CONNECTION_ERRORS
from ..ids import lock_token
from .reconnect import OUTAGE, address_of, once

if TYPE_CHECKING:
    from ..adapters.base import Adapter
    from ..task import Task

log = logging.getLogger("taskora.worker")

#: How long a liveness key lasts without a beat, and how often a worker beats and looks for gone workers.
ALIVE_TTL_S = 2.0
BEAT_EVERY_S = 0.5
RECLAIM_EVERY_S = 0.5

_OWNED = re.compile(r"^(w[0-9a-f]{16}):[0-9a-f]+$")

#: Set in a prefork child: the liveness id its supervisor beats for it (see ``adopt``).
_adopted_id: str | None = None


def new_worker_id() -> str:
    return "w" + uuid.uuid4().hex[:16]


def adopt(worker_id: str) -> None:
    """In a prefork child: take the id whose key the supervisor keeps alive. The supervisor never runs handler
    code, so a handler that holds the GIL for seconds (one long C call) cannot make its own job look lost."""
    global _adopted_id
    _adopted_id = worker_id


def refused_when_full(error: BaseException) -> bool:
    """Whether ``error`` is Redis refusing a write because it is at ``maxmemory`` with ``noeviction`` (its OOM
    reply, as redis-py and the direct adapter both word it)."""
    return "used memory > 'maxmemory'" in str(error)


def owner_of(token: str) -> str | None:
    """The worker id inside a lock token taken by a liveness-keeping worker, else None."""
    match = _OWNED.match(token)
    return match.group(1) if match else None


class Liveness:
    """One worker process's liveness key, its lock tokens, and its look-out for workers that are gone."""

    def __init__(self, adapter: Adapter, name: str) -> None:
        self.adapter = adapter
        self.name = name
        #: False in a prefork child: its supervisor beats its key (``adopt``).
        self.beats = _adopted_id is None
        self.worker_id = _adopted_id or new_worker_id()
        #: Whether tokens name us: not while a full Redis has refused every beat so far (nothing to keep them).
        self._keyed = True
        self._beaten = False
        #: Whether our last beat was refused by a full Redis (``reclaim`` trusts no missing key meanwhile).
        self._refused = False
        self._full_reported = False

    def new_token(self) -> str:
        """A lock token that names this worker: reclaimable once this worker stops beating. Until a beat got
        through after a full Redis refused the first (at start-up), a plain token, left to the stall sweep."""
        return f"{self.worker_id}:{lock_token()}" if self._keyed else lock_token()

    def beat(self) -> None:
        """Write our liveness key. A Redis at ``maxmemory`` that refuses the write (``noeviction``) is reported
        once and tried again at the next beat: the worker still drains the queue, which frees the memory."""
        if not self.beats:
            if not self._beaten:  # a prefork child: name our tokens only if the supervisor's key got written
                self._keyed = self._beaten = bool(self.adapter.alive({self.worker_id}))
            return
        try:
            self.adapter.mark_alive(self.worker_id, self.name, int(ALIVE_TTL_S * 1000))
        except Exception as exc:
            if not refused_when_full(exc):
                raise
            self._keyed, self._refused = self._beaten, True
            if not self._full_reported:
                self._full_reported = True
                log.warning("Redis at %s is full (maxmemory) and refused this worker's liveness key; its jobs are "
                            "recovered by lock expiry until a beat gets through", address_of(self.adapter))
            return
        self._keyed = self._beaten = True
        self._refused = False

    def beat_until(self, stopped: threading.Event) -> None:
        """Refresh the liveness key until ``stopped``; a failed beat is retried at the next tick."""
        while self.beats and not stopped.wait(BEAT_EVERY_S):
            once(address_of(self.adapter), self.beat)

    def gone(self) -> None:
        """A clean stop: nothing of ours is held any more, so no key should outlive us."""
        if not self.beats:
            return  # the supervisor drops the key once this child has exited
        try:
            self.adapter.mark_gone(self.worker_id)
        except CONNECTION_ERRORS:
            pass

    def reclaim_until(self, tasks: Iterable[Task[Any, Any]], stopped: threading.Event) -> None:
        """Look for gone workers' jobs until ``stopped``. After Redis was unreachable, wait until every live
        worker has had time to beat again: keys that lapsed during the outage do not mean their workers died."""
        tasks = list(tasks)
        quiet_until = 0.0
        while not stopped.wait(RECLAIM_EVERY_S):
            if time.monotonic() < quiet_until:
                continue
            try:
                for task in tasks:
                    self.reclaim(task)
            except CONNECTION_ERRORS as exc:
                OUTAGE.lost(address_of(self.adapter), exc, "looking for jobs of gone workers")
                quiet_until = time.monotonic() + 2 * ALIVE_TTL_S

    def reclaim(self, task: Task[Any, Any]) -> list[str]:
        """Hand back ``task``'s active jobs whose worker is gone; returns their ids."""
        held = [(job_id, token, owner) for job_id, token in self.adapter.locks_of_active(task.name)
                if (owner := owner_of(token)) is not None and owner != self.worker_id]
        if not held:
            return []
        alive = self.adapter.alive({owner for _job_id, _token, owner in held} | {self.worker_id})
        if not self._keys_kept(alive):
            return []
        reclaimed = []
        for job_id, token, owner in held:
            if owner in alive:
                continue
            status = self.adapter.reclaim(task.name, job_id, token, task.options.stall.max_lost)
            if status != "lost":
                log.warning("Task %s[%s]: its worker %s is gone; job %s", task.name, job_id, owner,
                            "failed (lost too often)" if status == "failed" else status)
                reclaimed.append(job_id)
        return reclaimed

    def _keys_kept(self, alive: set[str]) -> bool:
        """Whether a missing liveness key means a gone worker: not while our own key is missing or our last beat
        was refused. A Redis at ``maxmemory`` refuses every worker's beats alike, so every key lapses, ours too;
        reclaiming then took live workers' running jobs (a prefork child took its sibling's every half second,
        their supervisor's beats refused, and both ran them), where the stall sweep waits for their locks."""
        return self.worker_id in alive and not self._refused
