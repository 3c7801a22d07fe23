"""Outcomes: how a worker records the end of a job it ran (or could not run) in Redis."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from ..adapters.base import ClaimedJob, ClaimResult
from ..errors import MalformedJobError, RetryError, SerializationError, WorkerError
from ..retry import retry_delay_ms as retry_delay_ms_of
from ..retry import should_retry
from ..workflow import hooks as workflow_hooks
from .failures import FailurePlan, described, error_detail, error_text
from .reconnect import GaveUp, until_done

if TYPE_CHECKING:
    from ..app import Taskora
    from ..task import Task
    from .held import HeldJobs
    from .runtime import JobRuntime

log = logging.getLogger("taskora.worker")


class Outcomes:
    """Writes failures (retried under the task's policy, or final), cancels, and outcomes that must survive an
    outage.

    Invariant: an outcome is written only while the job's lock is still this worker's (the scripts check the
    token), a final failure runs the workflow hooks exactly once, and a job never stays active because its
    outcome could not be written: it is resent until Redis answers, or left to stall recovery on a cold stop.
    """

    def __init__(self, app: Taskora, held: HeldJobs, cold: threading.Event, address: str) -> None:
        self.app = app
        self.adapter = app.adapter
        self.held = held
        self.cold = cold
        self.address = address

    def fail_held(self, job: ClaimedJob | None, error: BaseException) -> None:
        """End a job the worker could not handle: failed for good with ``error``, which names the job and task.
        Written only while the job's lock is still ours (after an outcome went through it is left alone)."""
        if job is None:
            return
        with self.held.lock:
            self.held.active.pop(job.id, None)
            self.held.reserved.pop(job.id, None)
        if not isinstance(error, MalformedJobError):
            error = WorkerError(f"{job.task} job {job.id}: the worker failed handling it: {described(error)}")
        text, detail = error_text(error), error_detail(error)
        try:
            if self.adapter.fail(job, text, detail=detail).status != "failed":
                return  # its outcome went through before the error: nothing to end
            log.error("job %s (%s) failed: %s", job.id, job.task, text)
            workflow_hooks.on_failed(self.app, job.fields, text, detail)  # after: only a job that really failed
        except Exception:  # Redis unreachable, or worse: the lock lapses and stall recovery takes over
            log.exception("job %s (%s): could not record its failure; stall recovery will", job.id, job.task)

    def reliably(self, runtime: JobRuntime, finish: Any) -> ClaimResult:
        """Record ``runtime``'s outcome with ``finish()``, retrying while Redis is unreachable; the handler
        itself never runs twice here.

        Resending is safe: a finish whose reply was lost finds the job no longer held and reports
        'lost'. Only a cold stop gives up, leaving the job to stall recovery (run again, never lost).
        """
        try:
            result: ClaimResult = until_done(self.address, finish, self.cold)
            return result
        except GaveUp as exc:
            log.warning("job %s (%s): outcome not recorded before shutdown (%s); stall recovery will "
                        "run it again", runtime.id, runtime.task_name, exc)
            return ClaimResult()

    @staticmethod
    def warn_if_lost(runtime: JobRuntime, status: str | None) -> None:
        if status == "lost":
            log.warning("job %s (%s): lock lost while running; its outcome was dropped", runtime.id, runtime.task_name)

    def finish_cancelled(self, runtime: JobRuntime) -> ClaimResult:
        workflow_hooks.on_cancelled(self.app, runtime.fields, runtime.signal.reason)
        self.adapter.finish_cancel(runtime.claimed)
        on_cancel = runtime.task.options.on_cancel
        if on_cancel is not None:
            try:
                on_cancel(runtime.decode_data(), runtime.signal.reason)
            except Exception:
                log.exception("on_cancel of %s raised for job %s", runtime.task_name, runtime.id)
        return ClaimResult()

    @staticmethod
    def plan_failure(runtime: JobRuntime, error: BaseException) -> FailurePlan:
        """What a failed attempt writes: retried (after how long, with which data) or failed for good, and why."""
        task = runtime.task
        retry_delay_ms, not_retried = None, None
        if should_retry(task.options.retry, error, runtime.attempt):
            retry_delay_ms, not_retried = retry_delay_ms_of(task.options.retry, error, runtime.attempt)
        retry_data = None
        if retry_delay_ms is not None and isinstance(error, RetryError) and error.data is not RetryError.KEEP_DATA:
            try:
                retry_data = runtime.encode(error.data)
            except SerializationError as exc:  # the next attempt's data cannot be stored: fail, do not hang
                retry_delay_ms, not_retried = None, str(exc)
        text = error_text(error) + (f" (not retried: {not_retried})" if not_retried else "")
        return FailurePlan(text, error_detail(error), retry_delay_ms, retry_data)

    def finish_failed(self, runtime: JobRuntime, error: BaseException | None, next_token: str | None,
                      ttl: int, plan: FailurePlan | None = None) -> ClaimResult:  # fmt: skip
        assert error is not None
        task = runtime.task
        plan = plan or self.plan_failure(runtime, error)
        text = plan.text
        if plan.retry_delay_ms is None:
            workflow_hooks.on_failed(self.app, runtime.fields, text, plan.detail)
        result = self.adapter.fail(runtime.claimed, text, retry_delay_ms=plan.retry_delay_ms, detail=plan.detail,
                                   retry_data=plan.retry_data, next_token=next_token, lock_ttl_ms=ttl)
        if result.status == "failed" and not self._has_failed_listener(task):
            log.error("job %s (%s) failed after %d attempt(s): %s: %s", runtime.id, task.name, runtime.attempt,
                      type(error).__name__, text, exc_info=(type(error), error, error.__traceback__))
        return result

    def _has_failed_listener(self, task: Task[Any, Any]) -> bool:
        return task.events.has("failed") or self.app.events.has("task:failed")

