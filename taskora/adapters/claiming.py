"""The worker's transitions on a held job: claim, ack, fail, nack, heartbeat, cancel-finish, progress and logs,
including the lookahead calls (``claim_later`` / ``ack_later`` / ``fail_later``) whose replies are read later."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .base import BatchResult, ClaimedJob, ClaimResult, Completion
from .core import RedisCore
from .direct import InFlight
from .replies import BatchInFlight, ClaimInFlight, _batch_reply, _claim_reply, _finish_reply, _text
from .scripts import ThreadConnections


class ClaimingOps(RedisCore):
    """One engine script per transition, sent on the calling thread's connection."""

    def claim(self, task: str, token: str, lock_ttl_ms: int) -> ClaimResult:
        keys = self.keys.queue(task)
        args = [self.keys.task_prefix(task), self.now_ms(), token, lock_ttl_ms]
        return _claim_reply(task, token, self.scripts.claim(self.runner, keys, args))

    def ack(
        self, job: ClaimedJob, result: str | bytes, *, keep: bool = True,
        next_token: str | None = None, lock_ttl_ms: int = 0,
    ) -> ClaimResult:  # fmt: skip
        """Complete ``job``; with ``next_token`` also claim the next job in the same round trip."""
        args = [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token, result,
                "1" if keep else "0", next_token or "", lock_ttl_ms]
        reply = self.scripts.ack(self.runner, self.keys.queue(job.task), args)
        return _finish_reply(job.task, next_token, reply)

    def fail(
        self, job: ClaimedJob, error: str, *, retry_delay_ms: int | None = None, detail: str = "",
        retry_data: str | bytes | None = None, next_token: str | None = None, lock_ttl_ms: int = 0,
    ) -> ClaimResult:  # fmt: skip
        """End a failed attempt: retry ``retry_delay_ms`` from now (with ``retry_data`` as its new input, if
        given), or fail for good; optionally claim the next job in the same round trip."""
        args = self._fail_args(job, error, retry_delay_ms, detail, retry_data, next_token or "", lock_ttl_ms)
        reply = self.scripts.fail(self.runner, self.keys.queue(job.task), args)
        return _finish_reply(job.task, next_token, reply)

    def fail_later(self, job: ClaimedJob, error: str, *, retry_delay_ms: int | None, detail: str,
                   retry_data: str | bytes | None, next_token: str, lock_ttl_ms: int) -> ClaimInFlight:  # fmt: skip
        """``fail`` with the next claim, its reply read later (as ``ack_later``): a slot that holds its next job
        runs it while Redis records this attempt's failure (or retry) and claims one more."""
        args = self._fail_args(job, error, retry_delay_ms, detail, retry_data, next_token, lock_ttl_ms)
        return self._later(self.scripts.fail, self.keys.queue(job.task), args, job.task, next_token, fused=True)

    def _fail_args(self, job: ClaimedJob, error: str, retry_delay_ms: int | None, detail: str,
                   retry_data: str | bytes | None, next_token: str, lock_ttl_ms: int) -> list[Any]:  # fmt: skip
        return [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token, error,
                "" if retry_delay_ms is None else retry_delay_ms, next_token, lock_ttl_ms, detail,
                "0" if retry_data is None else "1", "" if retry_data is None else retry_data]

    def ack_many(self, task: str, completions: Sequence[Completion], *, claim: int = 0, token: str = "",
                 lock_ttl_ms: int = 0) -> BatchResult:  # fmt: skip
        """Complete ``completions`` (jobs of ``task``), then claim up to ``claim`` jobs under ``token``: one
        round trip for a whole group of slots."""
        args: list[Any] = [self.keys.task_prefix(task), self.now_ms(), token, lock_ttl_ms, claim, len(completions)]
        for c in completions:
            args += (c.job.id, c.job.token, c.result, "1" if c.keep else "0")
        reply = self.scripts.ack_many(self.runner, self.keys.queue(task), args)
        return _batch_reply(task, token, len(completions), reply)

    def ack_many_later(self, task: str, completions: Sequence[Completion], *, claim: int, token: str,
                       lock_ttl_ms: int) -> BatchInFlight:  # fmt: skip
        """``ack_many``, its reply read later: a busy prefork child runs the last job of its batch while Redis
        completes the ones before and claims the next batch (see ``worker/batches.py``)."""
        args: list[Any] = [self.keys.task_prefix(task), self.now_ms(), token, lock_ttl_ms, claim, len(completions)]
        for c in completions:
            args += (c.job.id, c.job.token, c.result, "1" if c.keep else "0")
        keys = self.keys.queue(task)
        script = self.scripts.ack_many

        def resend() -> Any:
            return script(self.runner, keys, args)

        if isinstance(self.runner, ThreadConnections):
            (sent,) = self.runner.send(script.command(keys, args))
        else:  # the in-memory engine has no socket to send ahead on: it runs now
            sent = InFlight.settled(resend())
        return BatchInFlight(sent, resend, task, token, len(completions))

    def ack_later(self, job: ClaimedJob, result: str | bytes, *, keep: bool, next_token: str,
                  lock_ttl_ms: int) -> ClaimInFlight:  # fmt: skip
        """``ack`` with the next claim, its reply read later: the caller runs a job it already holds while
        Redis completes this one and claims the next (see ``worker/lookahead.py``)."""
        args = [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token, result, "1" if keep else "0",
                next_token, lock_ttl_ms]
        return self._later(self.scripts.ack, self.keys.queue(job.task), args, job.task, next_token, fused=True)

    def claim_later(self, task: str, token: str, lock_ttl_ms: int) -> ClaimInFlight:
        """``claim``, its reply read later."""
        args = [self.keys.task_prefix(task), self.now_ms(), token, lock_ttl_ms]
        return self._later(self.scripts.claim, self.keys.queue(task), args, task, token, fused=False)

    def _later(self, script: Any, keys: list[str], args: list[Any], task: str, token: str,
               fused: bool) -> ClaimInFlight:  # fmt: skip
        def resend() -> Any:  # NOSCRIPT: Redis lost its script cache and did not run it; send it loading the script
            return script(self.runner, keys, args)

        if isinstance(self.runner, ThreadConnections):
            (sent,) = self.runner.send(script.command(keys, args))
        else:  # the in-memory engine has no socket to send ahead on: it runs now
            sent = InFlight.settled(resend())
        return ClaimInFlight(sent, resend, task, token, fused)

    def nack(self, task: str, job_id: str, token: str = "", *, unstarted: bool = False) -> bool:
        """Give an active job back unfinished; ``token=''`` lets a supervisor requeue a dead child's job.
        ``unstarted``: it never ran, so its rate-limit turn is given back too (lua/lib/rate_refund.lua)."""
        args = [self.keys.task_prefix(task), self.now_ms(), job_id, token, "1" if unstarted else "0"]
        return bool(self.scripts.nack(self.runner, self.keys.queue(task), args))

    def extend_locks(self, held: Iterable[ClaimedJob], lock_ttl_ms: int) -> list[str]:
        """Heartbeat every held job in one pipeline; one status per job (extended/cancelled/lost)."""
        jobs = list(held)
        if not jobs:
            return []
        if not self._scripts_loaded:
            self.scripts.preload(self.client)
            self._scripts_loaded = True
        calls = [([self.keys.job(j.task, j.id), self.keys.lock(j.task, j.id)], [j.token, lock_ttl_ms])
                 for j in jobs]
        return [_text(r) for r in self._pipeline_scripts(self.scripts.extend_lock, calls)]

    def finish_cancel(self, job: ClaimedJob) -> bool:
        args = [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token]
        return bool(self.scripts.finish_cancel(self.runner, self.keys.queue(job.task), args))

    def set_progress(self, task: str, job_id: str, progress: str | bytes) -> bool:
        keys = [self.keys.job(task, job_id), self.keys.events(task)]
        return bool(self.scripts.progress(self.runner, keys, [job_id, progress]))

    def append_log(self, task: str, job_id: str, entry: str, cap: int = 1000) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(self.keys.logs(task, job_id), entry)
        pipe.ltrim(self.keys.logs(task, job_id), -cap, -1)
        pipe.execute()
