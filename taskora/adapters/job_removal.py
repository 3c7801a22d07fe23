"""Deleting finished jobs for good: one job (lua/delete_finished.lua, the board's "delete" button) or a
bounded batch of one state older than a cutoff (lua/clean_finished.lua, "clean by age").

With the board's bounded list reads (page_reads.py) it makes up what the board needs of a store beyond
the common reads, so the adapter composes them as one piece."""

from __future__ import annotations

from .page_reads import PageReads
from .replies import _text


class JobRemoval(PageReads):
    """One atomic script call per deletion or batch, so a job is never half deleted."""

    def delete_finished(self, task: str, job_id: str) -> str | None:
        """Delete ``job_id`` of ``task`` if it is finished; returns the state it was in (None: no such job)."""
        args = [self.keys.task_prefix(task), self.now_ms(), job_id]
        state = _text(self.scripts.delete_finished(self.runner, self.keys.queue(task), args))
        return state or None

    def clean_finished(self, task: str, state: str, before_ms: int, batch: int) -> tuple[int, int]:
        """Delete up to ``batch`` jobs of ``task`` in the finished ``state`` that finished at or before
        ``before_ms``, oldest first. Returns (jobs deleted, zset entries looked at): fewer looked at than
        ``batch`` means none older is left."""
        args = [self.keys.task_prefix(task), self.now_ms(), state, int(before_ms), int(batch)]
        deleted, looked_at = self.scripts.clean_finished(self.runner, self.keys.queue(task), args)
        return int(deleted), int(looked_at)
