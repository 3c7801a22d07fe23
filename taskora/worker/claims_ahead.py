"""ClaimsAhead: the claims a worker's slots send ahead of need, and what becomes of the jobs they take.

After a short job with more waiting, a slot claims its next job ahead and runs the one it holds while
that reply is on its way (lookahead.py holds the per-slot state and the claim watch). This module reads
those replies, hands back what will not run here, and keeps the claim watch's promise: a job claimed
behind a slow one goes back to the queue instead of waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..adapters.base import CONNECTION_ERRORS, ClaimedJob, ClaimResult
from .batches import BatchClaims, size_in_this_process
from .failures import FailurePlan
from .lookahead import IN_FLIGHT_AT_MOST, ClaimWatch, Lookahead, SentClaim
from .prefetch_room import PrefetchRoom
from .reconnect import OUTAGE, once
from .runtime import JobRuntime, lock_ttl_ms

if TYPE_CHECKING:
    from ..app import Taskora
    from .budget import RunBudget
    from .executor import Outcome
    from .held import HeldJobs
    from .outcomes import Outcomes

log = logging.getLogger("taskora.worker")


class ClaimsAhead:
    """Sends, reads and hands back the claims slots make ahead.

    Invariant: a job claimed ahead is in ``held.reserved`` from the moment its reply is read until whoever pops
    it runs it or hands it back, exactly once; a job whose cancel came meanwhile never starts, and a claim
    older than a heartbeat interval is re-checked before its job runs.
    """

    def __init__(self, app: Taskora, held: HeldJobs, outcomes: Outcomes, claim_watch: ClaimWatch, *,
                 stopping: threading.Event, cold: threading.Event, new_token: Callable[[], str],
                 notify: Callable[..., None], address: str, budget: RunBudget | None = None) -> None:  # fmt: skip
        self.app = app
        self.adapter = app.adapter
        self.held = held
        self.outcomes = outcomes
        self.claim_watch = claim_watch
        self.stopping = stopping
        self.cold = cold
        self.new_token = new_token
        self.notify = notify
        self.address = address
        #: The prefetch bound and the room claims ahead take from it (``budget.apply_prefetch`` sets the bound).
        self.prefetch = PrefetchRoom(held, budget)
        #: Set in a prefork child (``enable_batches``): its busy slots claim and complete jobs in batches.
        self.batches: BatchClaims | None = None
        if size_in_this_process() > 1:
            self.enable_batches(size_in_this_process())

    def enable_batches(self, size: int) -> None:
        """Claim and complete ``size`` jobs per round trip while busy (batches.py; a prefork child's slots)."""
        self.batches = BatchClaims(self, size, self.notify)
        self.batches.start_watch(self.cold)

    def _safely(self, fn: Any, *args: Any) -> Any:
        return once(self.address, fn, *args)

    def _nack_unstarted(self, task: str, job_id: str, token: str) -> bool:
        """Hand back a job that never ran here, with its rate-limit turn (lua/lib/rate_refund.lua)."""
        return self.adapter.nack(task, job_id, token, unstarted=True)

    def next_after(self, lookahead: Lookahead | None, result: ClaimResult, outcome: Outcome) -> ClaimResult:
        """A slot of its own runs next the job its finish claimed, else the one it holds ahead. After a short job
        with more waiting, it also claims one ahead now, to run the job just claimed while that reply comes."""
        if lookahead is None:
            return result
        if result.job is None:
            result.job = self.pop_ahead(lookahead)
        elif result.more and not self.stopping.is_set() and Lookahead.worth_it(outcome.duration):
            task = self.app.get_task(result.job.task)
            self.claim_ahead(lookahead, self._plain_claim(task.name, lock_ttl_ms(task)))
        return result

    def _plain_claim(self, task: str, lock_ttl: int) -> Callable[[], SentClaim]:
        """What sends a claim of one job of ``task`` ahead, its reply read later (for ``claim_ahead``)."""
        return lambda: SentClaim(self.adapter.claim_later(task, self.new_token(), lock_ttl))

    def finish_ahead(self, lookahead: Lookahead | None, runtime: JobRuntime, payload: str | bytes, keep: bool,
                     lock_ttl: int) -> ClaimResult | None:  # fmt: skip
        """Complete ``runtime``'s job and claim one more in one request sent ahead, and hand out the job the slot
        holds already, to run while the reply comes. None (nothing sent) when the prefetch bound has no room."""
        assert lookahead is not None  # only a slot of its own holds a job claimed ahead

        def send() -> SentClaim:
            request = self.adapter.ack_later(runtime.claimed, payload, keep=keep, next_token=self.new_token(),
                                             lock_ttl_ms=lock_ttl)
            return SentClaim(request, runtime, payload, keep)

        if not self.claim_ahead(lookahead, send, starting=1):  # the job held is started now: not counted
            return None
        job = self.pop_now(lookahead)
        if self._second_claim_fits(lookahead):
            self.claim_ahead(lookahead, self._plain_claim(runtime.task_name, lock_ttl), with_permit=False)
        return ClaimResult(job=job)

    def _second_claim_fits(self, lookahead: Lookahead) -> bool:
        """Whether a slot without batches that holds nothing now claims one more ahead (lookahead.py): then the
        reply it reads as a job ends is the one sent two jobs earlier."""
        return (self.batches is None and lookahead.more and not lookahead.holds()
                and len(lookahead.in_flight) < IN_FLIGHT_AT_MOST and not self.stopping.is_set())

    def pop_now(self, lookahead: Lookahead) -> ClaimedJob | None:
        """``pop_ahead`` right after a claim ahead took a permit for it: without a job (cancelled meanwhile, a
        stop) the permit goes back at once, not held while the slot claims and maybe waits."""
        job = self.pop_ahead(lookahead)
        if job is None:
            lookahead.give_permit(None)  # a permit taken for a next job it no longer starts
        return job

    def claim_ahead(self, lookahead: Lookahead, send: Callable[[], SentClaim], jobs: int = 1,
                    starting: int = 0, with_permit: bool = True) -> bool:  # fmt: skip
        """Send the claim ``send()`` makes if the ``jobs`` it may bring fit the prefetch bound (prefetch_room.py;
        ``starting``: jobs the slot holds and starts now); False, nothing sent, when they do not. Without
        ``with_permit`` no job starts now: the claim takes no permit for one. Nor does it when the job starting holds
        its permit already, taken with the claim that brought it (``with_next_claim``): a budget of one slot would
        never have a second free, and the slot would never claim ahead."""
        with_permit = with_permit and lookahead.permit is None
        taken = self.prefetch.take(jobs, starting, with_permit)
        if taken is None:
            return False
        room, permit = taken
        try:
            with lookahead.lock:  # the claim watch hands back the slot's claims as they stand before or after it
                sent = send()
                sent.room = room
                lookahead.in_flight.append(sent)
        except BaseException:
            self.prefetch.give(room)
            if permit is not None:
                permit.release()
            raise
        if with_permit:
            lookahead.give_permit(permit)
        self._watch(lookahead, sent)
        return True

    def fail_ahead(self, lookahead: Lookahead | None, runtime: JobRuntime, plan: FailurePlan,
                   duration_s: float) -> ClaimResult | None:  # fmt: skip
        """A retried attempt of a slot that holds its next job, sent with one more claim, its reply read later:
        the slot runs the job it holds meanwhile, so a retry costs one script call and no wait, as a completion
        does (``ack_later``). None where that does not apply (no job held, a batch in flight, a final failure,
        a slow job, no prefetch room): the caller sends the failure and waits."""
        if (lookahead is None or not self._holds_next(lookahead) or not self._room_in_flight(lookahead)
                or not plan.retries or self.stopping.is_set() or not Lookahead.worth_it(duration_s)):
            return None
        ttl = lock_ttl_ms(runtime.task)

        def resend() -> ClaimResult:  # the reply was lost: record the retry again, claiming nothing
            return self.adapter.fail(runtime.claimed, plan.text, retry_delay_ms=plan.retry_delay_ms,
                                     detail=plan.detail, retry_data=plan.retry_data)

        def send() -> SentClaim:
            request = self.adapter.fail_later(runtime.claimed, plan.text, retry_delay_ms=plan.retry_delay_ms,
                                              detail=plan.detail, retry_data=plan.retry_data,
                                              next_token=self.new_token(), lock_ttl_ms=ttl)
            return SentClaim(request, runtime, resend=resend)

        if not self.claim_ahead(lookahead, send, starting=1):  # the job held is started now: not counted
            return None
        return ClaimResult(job=self.pop_now(lookahead))

    def _holds_next(self, lookahead: Lookahead) -> bool:
        """Whether the slot holds a job claimed ahead to run next (a batch slot's queue runs its own way)."""
        return lookahead.ahead is not None if self.batches is not None else lookahead.holds()

    def _room_in_flight(self, lookahead: Lookahead) -> bool:
        """Whether the slot may send one more request ahead: a batch slot none while one is in flight."""
        if self.batches is not None:
            return not lookahead.in_flight
        return len(lookahead.in_flight) < IN_FLIGHT_AT_MOST

    def _watch(self, lookahead: Lookahead, sent: SentClaim) -> None:
        self.claim_watch.sent(lookahead, sent)
        self.notify("claim_sent", sent.request.task, sent.request.token)

    def settle(self, lookahead: Lookahead, *, batch_may_wait: bool = False, leave: int = 0) -> None:
        """Read the replies of the slot's requests in flight, oldest first, until ``leave`` are left: note a lost
        completion, hold the job each claimed (unless the claim watch handed it back meanwhile). With
        ``batch_may_wait``, a batch's reply is left unread while the slot still holds jobs to run (batches.py
        reads it when they run out)."""
        lookahead.busy_since = None
        sent = lookahead.sent
        if batch_may_wait and sent is not None and sent.batch and lookahead.holds():
            return
        in_flight = lookahead.in_flight
        while len(in_flight) > leave:
            with lookahead.lock:
                sent = in_flight.popleft()
            try:
                self._read(lookahead, sent)
            finally:
                self.prefetch.give(sent.room)  # what it brought is reserved by now, or handed back

    def settle_to_finish(self, lookahead: Lookahead) -> None:
        """Read what a slot finishing a job needs: the reply sent two jobs earlier (the one sent one job earlier
        is read only if the slot holds no job to run next), or, with batches, a batch's reply once it is due."""
        if self.batches is not None:
            self.settle(lookahead, batch_may_wait=True)
            return
        self.settle(lookahead, leave=IN_FLIGHT_AT_MOST - 1)
        if not lookahead.holds():
            self.settle(lookahead)

    def _read(self, lookahead: Lookahead, sent: SentClaim) -> None:
        if sent.batch and self.batches is not None:
            self.batches.read(lookahead, sent)
            return
        try:
            result = sent.request.result()
        except CONNECTION_ERRORS as exc:
            OUTAGE.lost(self.address, exc, "reading a reply sent ahead")
            if sent.runtime is None:  # a plain claim: a job it took stays locked until stall recovery frees it
                log.debug("a claim's reply was lost (%s); a job it took returns after its lock lapses", exc)
                return
            runtime = sent.runtime  # its outcome is sent again; a job the lost reply claimed waits as above
            log.debug("job %s (%s): its outcome's reply was lost (%s); sending it again", runtime.id,
                      runtime.task_name, exc)
            def resend() -> ClaimResult:
                return self.adapter.ack(runtime.claimed, sent.payload, keep=sent.keep)

            result = self.outcomes.reliably(runtime, sent.resend or resend)
        assert isinstance(result, ClaimResult)  # a claim's or a fused finish's reply, not a batch's
        if sent.runtime is not None:
            self.outcomes.warn_if_lost(sent.runtime, result.status)
        lookahead.more = result.more
        if result.job is not None and not sent.released and self.still_held(result.job, sent):
            self._hold(lookahead, result.job)
            with self.held.lock:
                self.held.reserved[result.job.id] = result.job
            self.notify("job_reserved", result.job)
        self.notify("claim_read", sent.request.token)

    @staticmethod
    def _hold(lookahead: Lookahead, job: ClaimedJob) -> None:
        """Hold a claimed job after those held already (``pop_ahead`` takes ``ahead``, then ``queue``)."""
        if lookahead.ahead is None and not lookahead.queue:
            lookahead.ahead = job
        else:  # a second claim's job, after the first's
            with lookahead.lock:
                lookahead.queue.append(job)

    def still_held(self, job: ClaimedJob, sent: SentClaim) -> bool:
        """Whether a job claimed ahead is still this worker's. Nobody kept its lock while the reply was unread;
        the claim watch hands such a job back long before the lock could lapse, but should that have failed
        (Redis unreachable), a claim older than a heartbeat interval is checked before its job runs."""
        ttl = lock_ttl_ms(self.app.get_task(job.task))
        if time.monotonic() - sent.sent_at < ttl / 3000:
            return True
        status = (self._safely(self.adapter.extend_locks, [job], ttl) or ["lost"])[0]
        if status == "cancelled":
            with self.held.lock:
                self.held.note_cancel(job.id)
        elif status == "lost":
            log.warning("job %s (%s), claimed ahead long ago, is no longer held here; stall recovery returns it",
                        job.id, job.task)
            return False
        return True

    def watch(self) -> None:
        while not self.cold.is_set():
            for lookahead, sent in self.claim_watch.due():
                self._release_claimed_ahead(lookahead, sent)

    def _release_claimed_ahead(self, lookahead: Lookahead, sent: SentClaim) -> None:
        """The job running when ``sent`` went out is still running: hand the jobs the slot's unread claims took
        back to the front of the queue, for an idle slot or worker, instead of keeping them waiting. Under the
        slot's lock, so the slot reads each claim either before (and runs that job itself) or after (and knows
        it is gone). A claim sent after ``sent`` means that job has ended: that claim's own watch decides then.
        The slot sends under the same lock, so a claim it sends later takes the jobs handed back, oldest first."""
        with lookahead.lock:
            if not lookahead.in_flight or lookahead.in_flight[-1] is not sent:
                return  # the slot read it meanwhile, or sent another since
            found_all = True
            for claim in reversed(list(lookahead.in_flight)):  # each goes to the front: the newest first keeps order
                if not claim.released:
                    found_all = self._release_claim(claim) and found_all
            if not found_all:  # the newest claim stands for them all: it is looked at again later
                sent.looks += 1
                self.claim_watch.sent(lookahead, sent)

    def _release_claim(self, sent: SentClaim) -> bool:
        """Hand back what one unread claim took (called under the slot's lock); False when it holds no job: it
        has not run yet, or took none (another worker emptied the queue first)."""
        request = sent.request
        ids = self._safely(self.adapter.held_with, request.task, [request.token])
        if not ids:
            return False
        with self.held.lock:
            if any(job_id in self.held.cancel_before_start for job_id in ids):
                return True  # the slot finishes the cancel when it reads the claim
        sent.released = True  # also if a nack's reply is lost: a job it did not requeue lapses to stall recovery
        for job_id in ids:
            if self._safely(self._nack_unstarted, request.task, job_id, request.token):
                log.debug("job %s (%s), claimed ahead behind a slow job, returned to the queue", job_id,
                          request.task)
        return True

    def pop_ahead(self, lookahead: Lookahead) -> ClaimedJob | None:
        """The job claimed ahead (or the next of the slot's batch), to run now; None without one, or once a stop
        began (it is handed back)."""
        if self.stopping.is_set() or not lookahead.holds():
            return None
        with lookahead.lock:
            if lookahead.ahead is not None:
                job, lookahead.ahead = lookahead.ahead, None
            elif lookahead.queue:
                job = lookahead.queue.popleft()
            else:  # the batch watch handed the rest back meanwhile
                return None
        with self.held.lock:
            still_ours = self.held.reserved.pop(job.id, None) is not None
        if still_ours and self.batches is not None:
            self.batches.started(lookahead)
        return job if still_ours else None

    def pop_or_flush(self, lookahead: Lookahead) -> ClaimedJob | None:
        """``pop_ahead``; with nothing held, the completions a batch still owes are sent before the slot
        goes to claim (and maybe wait)."""
        job = self.pop_ahead(lookahead)
        if job is None:
            lookahead.give_permit(None)  # a permit taken for a next job it no longer starts
            if self.batches is not None:
                self.batches.flush(lookahead)
        return job

    def give_back(self, lookahead: Lookahead) -> None:
        """A stopping slot returns the job it claimed ahead to the front of the queue (or, if it was cancelled
        meanwhile, records the cancel): it never started."""
        lookahead.give_permit(None)  # a permit taken for a next job it no longer starts
        try:
            self.settle(lookahead)
        except CONNECTION_ERRORS:
            pass
        with lookahead.lock:
            job, lookahead.ahead = lookahead.ahead, None
            queued, lookahead.queue = list(lookahead.queue), type(lookahead.queue)()
        for held in reversed(([job] if job is not None else []) + queued):  # to the front, so the last first
            self.release_reserved(held)
        if self.batches is not None:
            self.batches.flush(lookahead)

    def release_reserved(self, job: ClaimedJob) -> None:
        """Hand back a job claimed ahead that will not run here: to the front of the queue, or, when it was
        cancelled meanwhile, recorded as cancelled. Whoever pops it from ``reserved`` does it, once."""
        with self.held.lock:
            ours = self.held.reserved.pop(job.id, None) is not None
            cancelled = self.held.cancel_before_start.pop(job.id, False) is None
        if not ours:
            return
        if cancelled:
            task = self.app.get_task(job.task)
            runtime = JobRuntime(task, job, self.adapter, self.app.serializer, lock_ttl_ms(task))
            runtime.signal.abort("cancelled")
            self._safely(self.outcomes.finish_cancelled, runtime)
        elif self._safely(self._nack_unstarted, job.task, job.id, job.token):
            log.debug("job %s (%s), claimed ahead, returned to the queue", job.id, job.task)
        self.notify("job_released", job)
