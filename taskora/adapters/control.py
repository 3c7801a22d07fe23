"""Control: cancelling, retrying dead letters, purging, rate limits, the control pub/sub, once-only marks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .collecting import CollectOps
from .reads import JobReads
from .replies import _text
from .topology import subscribers


class ControlOps(JobReads, CollectOps):
    """Operator actions on jobs and tasks (what the CLI, the inspector and the Celery control front send)."""

    def cancel(self, task: str, job_id: str, reason: str = "", *, terminate: str = "") -> str:
        """Cancel a job (see lua/cancel.lua); ``terminate`` (a signal name) also ends an active one at once."""
        keys = self.keys.queue(task) + [self.keys.cancel_channel(task)]
        args = [self.keys.task_prefix(task), self.now_ms(), job_id, reason, terminate]
        return _text(self.scripts.cancel(self.runner, keys, args))

    def retry_failed(self, task: str, job_ids: Sequence[str]) -> int:
        """Move failed jobs back to waiting with a fresh attempt count (the dead-letter retry)."""
        ids = list(job_ids)
        if not ids:
            return 0
        self.ensure_handshake()
        args = [self.keys.task_prefix(task), self.now_ms(), *ids]
        return int(self.scripts.dlq_retry(self.runner, self.keys.queue(task), args))

    def purge(self, task: str) -> int:
        """Delete every waiting and delayed job of ``task`` and its collect buffers (items not yet flushed into a
        job would otherwise come back as a batch at the next push); returns how many jobs."""
        ids = self.list_ids(task, "waiting") + self.list_ids(task, "delayed")
        pipe = self.client.pipeline(transaction=False)
        for key in self.collect_buffer_keys(task):
            pipe.delete(key)
        for job_id in ids:
            pipe.delete(self.keys.job(task, job_id), self.keys.logs(task, job_id))
        for name in ("wait", "prioritized", "delayed", "newer"):  # newer: the index of adapters/versions.py
            pipe.delete(self.keys.state_set(task, name))
        pipe.execute()
        return len(ids)

    def set_rate_limit(self, task: str, interval_ms: float | None) -> None:
        """Set (or with None remove) ``task``'s limiter, read by every claim (see taskora/rate_limits.py)."""
        key = self.keys.rate_limit(task)
        if interval_ms is None:
            self.client.hdel(key, "interval", "tat")  # the declared limit stays recorded (see declare_rate_limit)
        else:
            self.client.hset(key, "interval", repr(float(interval_ms)))

    def declare_rate_limit(self, task: str, interval_ms: float | None) -> bool:
        """Write the limit ``task`` declares in code, unless that declaration is already recorded (a limit set at
        run time then stays in force); True when something was written."""
        key, declared = self.keys.rate_limit(task), "" if interval_ms is None else repr(float(interval_ms))
        recorded = self.client.hget(key, "declared")
        if (recorded.decode() if isinstance(recorded, bytes) else recorded or "") == declared:
            return False
        if interval_ms is None:
            self.client.delete(key)
        else:
            self.client.hset(key, mapping={"interval": declared, "declared": declared})
        return True

    def rate_limit_interval(self, task: str) -> float | None:
        """The ms between two starts of ``task`` in force, or None when it has no limit."""
        raw = self.client.hget(self.keys.rate_limit(task), "interval")
        return None if raw is None else float(raw)

    def pubsub(self) -> Any:
        return self.blocking.pubsub(ignore_subscribe_messages=True)

    def mark_job_once(self, task: str, job_id: str, mark: str, ttl_s: int) -> bool:
        """Set the flag ``mark`` of a job for ``ttl_s`` seconds unless it is set: True for the one caller that
        set it (several workers see the same event; one of them acts on it)."""
        key = f"{self.keys.task_prefix(task)}{job_id}:{mark}"
        return bool(self.client.set(key, "1", nx=True, ex=ttl_s))

    # -- the control channel: broadcast requests, workers' replies on a per-request list ------------------------
    def control_publish(self, request_json: str) -> int:
        """Broadcast a control request to every subscribed worker; returns how many were listening."""
        listening = int(self.client.publish(self.keys.control_channel, request_json))
        return subscribers(self.client, self.keys.control_channel, True) if self.keys.cluster else listening

    def control_reply(self, request_id: str, reply_json: str, ttl_s: int) -> None:
        """Append one worker's reply to ``request_id``'s reply list, which expires ``ttl_s`` after the last one."""
        key = self.keys.control_reply(request_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(key, reply_json)
        pipe.expire(key, ttl_s)
        pipe.execute()

    def control_wait_reply(self, request_id: str, timeout_s: float) -> Any:
        """The next reply to ``request_id`` (raw), waiting at most ``timeout_s``; None when none came."""
        popped = self.blocking.blpop([self.keys.control_reply(request_id)], timeout=max(timeout_s, 0.01))
        return None if popped is None else popped[1]

    def control_forget(self, request_id: str) -> None:
        """Drop replies to ``request_id`` nobody will read."""
        self.client.delete(self.keys.control_reply(request_id))
