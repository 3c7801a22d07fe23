"""Producing: one enqueue, or many in one round trip (one ``enqueue_many`` script call per task and batch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import EnqueueRequest
from .core import RedisCore


class DispatchOps(RedisCore):
    """Writes new jobs (see lua/enqueue.lua and lua/enqueue_many.lua)."""

    #: Jobs per enqueue_many script call: large enough to amortise a call, small enough to keep one
    #: script short (Redis runs nothing else meanwhile).
    ENQUEUE_BATCH = 100

    @staticmethod
    def _job_record(req: EnqueueRequest) -> list[Any]:
        """One job as the engine's record (lua/lib/enqueue.lua): 8 fixed items, then extra field pairs."""
        max_attempts = "" if req.max_attempts is None else req.max_attempts  # "": no field is stored
        record: list[Any] = [req.id, req.data, req.delay_ms, req.priority, max_attempts, req.expire_at_ms,
                             req.version, 2 * len(req.fields)]
        for name, value in req.fields.items():
            record += (name, value)
        return record

    def enqueue(self, req: EnqueueRequest) -> bool:
        self.ensure_handshake()
        args = [self.keys.task_prefix(req.task), self.now_ms(), *self._job_record(req)]
        return req.created(self.scripts.enqueue(self.runner, self.keys.queue(req.task), args))

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[bool]:
        """Enqueue many jobs in one round trip: one script call per task and batch, pipelined."""
        if not requests:
            return []
        self.ensure_handshake()
        if not self._scripts_loaded:
            self.scripts.preload(self.client)
            self._scripts_loaded = True
        batches: list[list[int]] = []  # indexes into ``requests``, one task per batch
        open_batch: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            batch = open_batch.get(req.task)
            if batch is None or len(batch) == self.ENQUEUE_BATCH:
                batch = open_batch[req.task] = []
                batches.append(batch)
            batch.append(i)
        now = self.now_ms()
        calls = []
        for batch in batches:
            task = requests[batch[0]].task
            args: list[Any] = [self.keys.task_prefix(task), now]
            for i in batch:
                args += self._job_record(requests[i])
            calls.append((self.keys.queue(task), args))
        created = [False] * len(requests)
        for batch, reply in zip(batches, self._pipeline_scripts(self.scripts.enqueue_many, calls), strict=True):
            for i, flag in zip(batch, reply, strict=True):
                created[i] = requests[i].created(flag)
        return created
