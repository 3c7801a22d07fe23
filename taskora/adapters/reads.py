"""Job reads: a job's hash or fields, its logs, the event streams, per-state counts and ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .core import RedisCore
from .page_reads import waiting_slice
from .replies import _field_values, _head_id, _pairs, _text, decode_job
from .scripts import ThreadConnections
from .topology import read_streams


class JobReads(RedisCore):
    """Reads change nothing, so they go through the shared client (or the thread's connection when faster)."""

    def get_job(self, task: str, job_id: str) -> dict[str, Any] | None:
        raw = self.client.hgetall(self.keys.job(task, job_id))
        return decode_job([x for kv in raw.items() for x in kv]) if raw else None

    def get_fields(self, task: str, job_id: str, names: Sequence[str]) -> dict[str, Any]:
        if isinstance(self.runner, ThreadConnections):
            values = self.runner.call("HMGET", self.keys.job(task, job_id), *names)
        else:
            values = self.client.hmget(self.keys.job(task, job_id), list(names))
        return _field_values(names, values)

    def find_task_of(self, job_id: str, task_names: Sequence[str]) -> str | None:
        """Which of ``task_names`` owns job ``job_id`` (one pipelined EXISTS per name, one round trip)."""
        names = list(task_names)
        if not names:
            return None
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.exists(self.keys.job(name, job_id))
        for name, found in zip(names, pipe.execute(), strict=True):
            if found:
                return name
        return None

    def get_logs(self, task: str, job_id: str) -> list[str]:
        return [_text(x) for x in self.client.lrange(self.keys.logs(task, job_id), 0, -1)]

    def read_events(self, positions: dict[str, str], block_ms: int, count: int = 500) -> list[Any]:
        """XREAD the given streams from the given ids; blocks at most ``block_ms``."""
        if not positions:
            return []
        if self.keys.cluster:  # one XREAD may only name streams of one slot
            return read_streams(self.blocking, positions, count, block_ms)
        if isinstance(self.runner, ThreadConnections):
            streams = list(positions)
            block_ms = max(1, int(self._block_s(block_ms / 1000) * 1000))
            reply = self.runner.call("XREAD", "COUNT", count, "BLOCK", block_ms, "STREAMS", *streams,
                                     *(positions[s] for s in streams))
            by_stream = reply.items() if isinstance(reply, dict) else reply or ()  # RESP3 (TLS set-ups) / RESP2
            return [(stream, [(entry_id, _pairs(flat)) for entry_id, flat in entries]) for stream, entries in by_stream]
        return self.blocking.xread(positions, count=count, block=block_ms) or []

    def stream_end_and_fields(self, task: str, job_id: str,
                              names: Sequence[str]) -> tuple[str, dict[str, Any]] | None:  # fmt: skip
        """Where the task's event stream ends now, then the job's ``names`` fields: one write, one round
        trip on this thread's connection, in that order (so a final event the look missed comes after
        that position). None where they cannot go out together (the in-memory engine)."""
        if not isinstance(self.runner, ThreadConnections):
            return None
        head, look = self.runner.call_many(("XREVRANGE", self.keys.events(task), "+", "-", "COUNT", 1),
                                           ("HMGET", self.keys.job(task, job_id), *names))
        for reply in (head, look):
            if isinstance(reply, Exception):
                raise reply
        return _head_id(head), _field_values(names, look)

    def next_due_ms(self, task: str) -> int | None:
        """When the earliest delayed job (or retry) of ``task`` is due, in epoch ms; None if none is."""
        head = self.client.zrange(self.keys.state_set(task, "delayed"), 0, 0, withscores=True)
        return int(head[0][1]) if head else None

    def last_event_id(self, task: str) -> str:
        """The id of the newest event of ``task`` ("0-0" if none): where a new reader starts."""
        return _head_id(self.client.xrevrange(self.keys.events(task), count=1))

    def counts(self, task: str) -> dict[str, int]:
        """How many jobs of ``task`` are in each state, in one round trip."""
        k = self.keys.queue(task)
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(k[0])
        pipe.zcard(k[1])
        for i in (2,):
            pipe.llen(k[i])
        for i in (3, 4, 5, 6, 7):
            pipe.zcard(k[i])
        wait, prio, active, delayed, completed, failed, expired, cancelled = pipe.execute()
        return {"waiting": wait + prio, "active": active, "delayed": delayed, "completed": completed,
                "failed": failed, "expired": expired, "cancelled": cancelled}

    def delayed_head(self, task: str, count: int) -> list[tuple[str, int]]:
        """The ``count`` soonest delayed jobs (eta/countdown, retry backoff) of ``task``: (id, due epoch ms)."""
        if count <= 0:  # ZRANGE 0 -1 would be every delayed job
            return []
        head = self.client.zrange(self.keys.state_set(task, "delayed"), 0, count - 1, withscores=True)
        return [(_text(job_id), int(due)) for job_id, due in head]

    def list_ids(self, task: str, state: str, start: int = 0, stop: int = -1) -> list[str]:
        """Job ids of ``task`` in ``state`` (newest first for finished states)."""
        k = self.keys
        if state == "waiting":
            if stop < 0:  # to the end: the last of every waiting job
                stop = int(self.client.zcard(k.state_set(task, "prioritized"))) \
                    + int(self.client.llen(k.state_set(task, "wait"))) - 1
            return waiting_slice(self.client, self.keys, task, start, stop) if stop >= start else []
        if state == "active":
            return [_text(i) for i in self.client.lrange(k.state_set(task, "active"), start, stop)]
        if state == "delayed":
            return [_text(i) for i in self.client.zrange(k.state_set(task, "delayed"), start, stop)]
        return [_text(i) for i in self.client.zrevrange(k.state_set(task, state), start, stop)]
