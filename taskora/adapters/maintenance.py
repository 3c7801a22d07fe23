"""Maintenance: worker liveness keys, stalled-job sweeps, reclaiming a dead worker's jobs, trimming."""

from __future__ import annotations

from collections.abc import Iterable

from .reads import JobReads
from .replies import _text


class MaintenanceOps(JobReads):
    """What keeps the store healthy when workers die or finished jobs pile up."""

    def stall_sweep(self, task: str, max_count: int) -> tuple[list[str], list[str]]:
        """Recover (or fail) jobs of dead workers; returns (recovered ids, failed ids)."""
        args = [self.keys.task_prefix(task), self.now_ms(), max_count]
        reply = [_text(r) for r in self.scripts.stall_sweep(self.runner, self.keys.queue(task), args)]
        cut = reply.index("|")
        return reply[:cut], reply[cut + 1 :]

    def reclaim(self, task: str, job_id: str, token: str, max_lost: int | None) -> str:
        """Hand back a job whose worker is gone, if ``token`` still holds it (lua/reclaim.lua); its status."""
        args = [self.keys.task_prefix(task), self.now_ms(), job_id, token, "" if max_lost is None else max_lost]
        return _text(self.scripts.reclaim(self.runner, self.keys.queue(task), args))

    def locks_of_active(self, task: str, chunk: int = 1000) -> list[tuple[str, str]]:
        """``(job id, lock token)`` of every active job of ``task`` whose lock is set."""
        ids = self.list_ids(task, "active")
        held = []
        for i in range(0, len(ids), chunk):
            part = ids[i:i + chunk]
            locks = self.client.mget([self.keys.lock(task, job_id) for job_id in part])
            held += [(job_id, _text(lock)) for job_id, lock in zip(part, locks, strict=True) if lock is not None]
        return held

    def held_with(self, task: str, tokens: Iterable[str], chunk: int = 1000) -> list[str]:
        """Ids of ``task``'s active jobs locked under one of ``tokens``: what a dead worker had claimed when it
        died, found without the claim's reply it never read."""
        wanted = set(tokens)
        ids = self.list_ids(task, "active") if wanted else []
        found = []
        for i in range(0, len(ids), chunk):
            part = ids[i:i + chunk]
            locks = self.client.mget([self.keys.lock(task, job_id) for job_id in part])
            found += [job_id for job_id, lock in zip(part, locks, strict=True)
                      if lock is not None and _text(lock) in wanted]
        return found

    def mark_alive(self, worker_id: str, name: str, ttl_ms: int) -> None:
        """Say that worker ``worker_id`` (called ``name``) runs, for ``ttl_ms`` from now."""
        self.client.set(self.keys.worker_alive(worker_id), name, px=ttl_ms)

    def mark_all_alive(self, workers: dict[str, str], ttl_ms: int) -> None:
        """``mark_alive`` for several workers (``{worker id: name}``) in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for worker_id, name in workers.items():
            pipe.set(self.keys.worker_alive(worker_id), name, px=ttl_ms)
        pipe.execute()

    def mark_gone(self, worker_id: str) -> None:
        self.client.delete(self.keys.worker_alive(worker_id))

    def alive(self, worker_ids: Iterable[str]) -> set[str]:
        """Which of ``worker_ids`` still have their liveness key."""
        ids = list(worker_ids)
        pipe = self.client.pipeline(transaction=False)
        for worker_id in ids:
            pipe.exists(self.keys.worker_alive(worker_id))
        return {worker_id for worker_id, present in zip(ids, pipe.execute(), strict=True) if present}

    def trim(self, task: str, *, completed_age_ms: int, completed_count: int, failed_age_ms: int,
             failed_count: int, batch: int = 1000) -> int:  # fmt: skip
        args = [self.keys.task_prefix(task), self.now_ms(), completed_age_ms, completed_count,
                failed_age_ms, failed_count, batch]
        return int(self.scripts.trim(self.runner, self.keys.queue(task), args))
