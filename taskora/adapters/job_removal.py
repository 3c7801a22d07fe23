"""Deleting one finished job for good (lua/delete_finished.lua): the board's "delete" button."""

from __future__ import annotations

from .core import RedisCore
from .replies import _text


class JobRemoval(RedisCore):
    """One atomic script call per deletion, so a job is never half deleted."""

    def delete_finished(self, task: str, job_id: str) -> str | None:
        """Delete ``job_id`` of ``task`` if it is finished; returns the state it was in (None: no such job)."""
        args = [self.keys.task_prefix(task), self.now_ms(), job_id]
        state = _text(self.scripts.delete_finished(self.runner, self.keys.queue(task), args))
        return state or None
