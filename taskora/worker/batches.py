"""Batches: a busy prefork child claims and completes several jobs per round trip.

One script call per job (complete it, claim the next) costs Redis a call's fixed overhead and the child
a request's encoding and reply parsing for every job; with no-op handlers that is most of the work. A
busy child of the prefork pool therefore claims ``BATCH_JOBS`` jobs in one ``ack_many`` call (under
Celery's prefetch bound, as many as the bound has room for: prefetch_room.py) and runs them in order. A
job it completes does not get a call of its own: its completion waits for the child's next request,
which goes out once half the batch is left to run (completing the jobs that waited, claiming the next
batch) and whose reply is read when the batch has run out, so a busy child does not wait on the
network: Redis runs the next batch's script while the rest of this one runs.

Crash safety stays where it was. A job of the batch not started yet is reserved, like a job claimed
ahead (lookahead.py): the heartbeat keeps its lock, a stop hands it back, and a child's death gives it
back uncharged (the supervisor requeues its jobs that were not running). A completed job whose
completion has not been read back yet is named, with its result, on the child's running board
(running_board.py) before the slot moves on, so a supervisor whose child died records that
completion itself instead of running the job again. Only the job that was running re-runs. A completion
waits only if the board has room for it (``CompletionRoom``); one that has none is sent at once, with what
waits, so every waiting completion is on the board whatever the tasks and results.

Batches are for short jobs only: a job that ran ``BATCH_AFTER_JOBS_UNDER_S`` or longer sends what
waits at once, with its own completion, in one call. While a job of the batch runs, a watch (a thread
of the worker) sends the completions waiting behind it once it has run ``SEND_WAITING_AFTER_S``, and
hands the jobs queued behind it back to the front of the queue, for an idle child to take, once it
has run ``RELEASE_AHEAD_AFTER_S``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..adapters.base import CONNECTION_ERRORS, ClaimedJob, ClaimResult, Completion
from . import lookahead as lookahead_module
from .lookahead import Lookahead, SentClaim
from .reconnect import OUTAGE, once
from .running_board import CompletionRoom

if TYPE_CHECKING:
    from ..adapters.base import Adapter
    from .claims_ahead import ClaimsAhead
    from .runtime import JobRuntime

log = logging.getLogger("taskora.worker")

#: Jobs a busy prefork child claims per round trip (measured on no-op jobs, bench/README.md "Profiles":
#: past 8 the gain per job is small, and a batch is work no idle child can take meanwhile).
BATCH_JOBS = 8
#: A completion waits for the next request only with a result this small (kept results; a result nobody
#: reads is not sent at all): it waits on the running board, whose halves hold 64 KiB.
DEFER_RESULT_MAX = 512
#: A job that ran shorter than this (seconds) leaves its completion to a later request of its batch. Looser
#: than claiming one ahead (lookahead.py, 2 ms): a Celery-front job on a loaded machine often runs past 2 ms,
#: and each one that does costs a call of its own; jobs queued behind a slow one are handed back anyway.
BATCH_AFTER_JOBS_UNDER_S = 0.01
#: How often an idle worker's batch watch looks whether the worker stopped (seconds).
IDLE_LOOK_EVERY_S = 1.0
#: Completions waiting behind a job that has run this long (seconds) are sent without waiting for it.
SEND_WAITING_AFTER_S = 0.05
#: Jobs per batch for the worker made in this process; set by a prefork child before its worker starts.
_size_here = 1
#: Whether that worker is one of more prefork children than the CPUs they may use (``BatchClaims._send_at``).
_crowded_here = False


def batch_in_this_process(size: int, crowded: bool = False) -> None:
    """Make the worker this process starts claim and complete ``size`` jobs per round trip (a prefork child:
    its supervisor records what a batch owed should it die, which a lone worker has nobody to do). ``crowded``:
    this child is one of more children than CPUs."""
    global _size_here, _crowded_here
    _size_here, _crowded_here = size, crowded


def size_in_this_process() -> int:
    return _size_here


class BatchClaims:
    """Claims, completes and watches the batches of a worker's own slots (one per task in a prefork child)."""

    def __init__(self, ahead: ClaimsAhead, size: int, notify: Callable[..., None]) -> None:
        self.ahead = ahead
        self.adapter: Adapter = ahead.adapter
        self.size = size
        self.crowded = _crowded_here
        self.notify = notify
        self._slots: set[Lookahead] = set()
        #: Set when a slot starts a held job: the watch sleeps without it (an idle worker costs no wake-ups).
        self._busy = threading.Event()
        #: What the running board has room for: a completion that finds none is sent at once.
        self.room = CompletionRoom()

    # -- the slot's side ----------------------------------------------------------------------------
    def finish(self, lookahead: Lookahead, runtime: JobRuntime, payload: str | bytes, keep: bool,
               duration: float, lock_ttl_ms: int) -> ClaimResult | None:  # fmt: skip
        """Record a completed job the batch way and return the job to run next. A short one waits for a later
        request while the batch lasts; after a long one, what waits is sent at once with it, in one call (claiming
        the next job, as a slot's usual finish does, when none is held). None: a kept result too large to wait
        on the running board takes the usual path (what waited is sent first)."""
        if keep and len(payload) > DEFER_RESULT_MAX:
            self.flush(lookahead)
            return None
        short = duration < BATCH_AFTER_JOBS_UNDER_S
        completion = Completion(runtime.claimed, payload if keep else "", keep)
        held = lookahead.held_count()
        if held == 0 and lookahead.sent is not None:  # the batch in flight brings the next jobs
            self.ahead.settle(lookahead)
            held = lookahead.held_count()
        waits = short and held > 0 and self._room_for(runtime, completion)  # else sent now, with what waits
        if waits and (lookahead.sent is not None or held > self._send_at()):  # rides with a later request
            with lookahead.lock:
                lookahead.done.append(completion)
            self.notify("job_deferred", runtime, completion)
            return ClaimResult(status="ok", job=self.ahead.pop_ahead(lookahead))
        with lookahead.lock:
            completions, lookahead.done = [*lookahead.done, completion], []
        try:
            sent = self._send_ahead(lookahead, runtime, completions, lock_ttl_ms) if waits else None
            if sent is not None:
                return sent
            if held:
                return self._exchange(lookahead, completions, lock_ttl_ms, 0)
            return self._exchange_fitting(lookahead, completions, lock_ttl_ms, self.size if short else 1)
        except BaseException:
            with lookahead.lock:  # not sent: the earlier ones wait again (this one is finished again by the retry)
                lookahead.done[:0] = completions[:-1]
            raise

    def _send_at(self) -> int:
        """The next batch is claimed once this few jobs are left to run, so that its reply comes while they run:
        half a batch, a batch being what the prefetch bound lets the slot hold (a Celery child's share of
        ``-c`` x ``worker_prefetch_multiplier``, and the job it runs).

        Under a bound that caps the batch, a child among more children than CPUs waits until one job is left:
        the bound has room only for jobs not held, so a claim sent sooner brings fewer and each job costs more
        requests, and a reply that comes after the last job costs no CPU, which another child uses meanwhile.
        Measured on a Celery app, 4 children on 2 CPUs: about 9 % more jobs/s (bench/README.md, "Profiles")."""
        batch = self.ahead.prefetch.batch_within(self.size)
        if self.crowded and batch < self.size:
            return 1
        return max(1, batch // 2)

    def _room_for(self, runtime: JobRuntime, completion: Completion) -> bool:
        """Whether this completion can wait: only on the running board, which a death's supervisor reads."""
        return self.room.take(runtime.id, (runtime.task_name, runtime.claimed.token, completion.keep,
                                           completion.result))

    def _send_ahead(self, lookahead: Lookahead, runtime: JobRuntime, completions: list[Completion],
                    lock_ttl_ms: int) -> ClaimResult | None:  # fmt: skip
        """Few jobs of the batch are left: send what waits with the next batch's claim, read it once they ran. The
        batch claims as many jobs as the prefetch bound has room for (prefetch_room.py); None (nothing sent) when
        it has room for none."""
        jobs = self.ahead.prefetch.room_ahead(self.size, starting=1)  # one starts now

        def send() -> SentClaim:
            request = self.adapter.ack_many_later(runtime.task_name, completions, claim=jobs,
                                                  token=self.ahead.new_token(), lock_ttl_ms=lock_ttl_ms)
            self.notify("job_deferred", runtime, completions[-1])  # on the board until the reply is read
            return SentClaim(request, completions=completions, batch=True)

        if not jobs or not self.ahead.claim_ahead(lookahead, send, jobs=jobs, starting=1):
            return None
        return ClaimResult(status="ok", job=self.ahead.pop_now(lookahead))

    def _exchange_fitting(self, lookahead: Lookahead, completions: list[Completion], lock_ttl_ms: int,
                          jobs: int) -> ClaimResult:  # fmt: skip
        """``_exchange`` claiming up to ``jobs``: one to start if a permit is free, and as many to wait as the
        prefetch bound has room for, that room counted while the request is out (prefetch_room.py, ``take_fitting``).
        None at all when none could start or wait: the slot then claims once a permit is its own."""
        claim, room, permit = self.ahead.prefetch.take_fitting(jobs)
        lookahead.give_permit(permit)  # the first job it brings runs with it (budget.ReservedWait.wait)
        try:
            return self._exchange(lookahead, completions, lock_ttl_ms, claim)
        finally:
            self.ahead.prefetch.give(room)  # what it brought is reserved by now, or the request failed

    def _exchange(self, lookahead: Lookahead, completions: list[Completion], lock_ttl_ms: int,
                  claim: int) -> ClaimResult:  # fmt: skip
        """Complete what waits and claim ``claim`` jobs now (a busy slot's first batch, or after a long job)."""
        task = completions[-1].job.task
        batch = self.adapter.ack_many(task, completions, claim=claim, token=self.ahead.new_token(),
                                      lock_ttl_ms=lock_ttl_ms)
        self._recorded(completions, batch.statuses)
        self._hold(lookahead, batch.jobs)
        return ClaimResult(status="ok", job=self.ahead.pop_ahead(lookahead), next_due_ms=batch.next_due_ms)

    def read(self, lookahead: Lookahead, sent: SentClaim) -> None:
        """Read a batch request's reply: its completions are recorded, the jobs it claimed are held (unless
        the claim watch handed them back meanwhile). A lost reply sends its completions again later."""
        try:
            batch = sent.request.result()
        except CONNECTION_ERRORS as exc:
            OUTAGE.lost(self.ahead.address, exc, "reading a batch sent ahead")
            with lookahead.lock:  # sent again (a completion Redis did record reports 'lost' then)
                lookahead.done[:0] = sent.completions
            self.notify("claim_read", sent.request.token)
            return
        assert not isinstance(batch, ClaimResult)  # a batch request's reply
        self._recorded(sent.completions, batch.statuses)
        if not sent.released:
            self._hold(lookahead, [job for job in batch.jobs if self.ahead.still_held(job, sent)])
        self.notify("claim_read", sent.request.token)

    def flush(self, lookahead: Lookahead) -> None:
        """Send the completions waiting in ``lookahead`` now (no job claimed); left waiting when Redis is
        unreachable (they stay on the running board meanwhile)."""
        with lookahead.lock:
            completions, lookahead.done = lookahead.done, []
        if not completions:
            return
        batch = once(self.ahead.address, self.adapter.ack_many, completions[0].job.task, completions)
        if batch is None:
            with lookahead.lock:
                lookahead.done[:0] = completions
            return
        self._recorded(completions, batch.statuses)

    def started(self, lookahead: Lookahead) -> None:
        """The slot starts a job it held: the watch looks at it should it run long."""
        lookahead.busy_since = time.monotonic()
        if lookahead not in self._slots:
            self._slots.add(lookahead)
        if not self._busy.is_set():  # read after busy_since is written: the watch, clearing it, sees one or both
            self._busy.set()

    def _hold(self, lookahead: Lookahead, jobs: list[ClaimedJob]) -> None:
        if not jobs:
            return
        with self.ahead.held.lock:
            for job in jobs:
                self.ahead.held.reserved[job.id] = job
        with lookahead.lock:
            lookahead.queue.extend(jobs)
        for job in jobs:
            self.notify("job_reserved", job)

    def _recorded(self, completions: list[Completion], statuses: list[str]) -> None:
        for completion, status in zip(completions, statuses, strict=True):
            if status == "lost":
                log.warning("job %s (%s): lock lost while running; its outcome was dropped", completion.job.id,
                            completion.job.task)
        job_ids = [c.job.id for c in completions]
        self.notify("completions_recorded", job_ids)
        self.room.give_back(job_ids)  # after the board dropped them: it never holds more than the room counts

    # -- the watch's thread ---------------------------------------------------------------------------
    def watch(self, cold: threading.Event) -> None:
        """A slot whose job has run ``SEND_WAITING_AFTER_S`` sends the completions waiting behind it; one whose
        job has run ``RELEASE_AHEAD_AFTER_S`` also hands back the jobs of its batch queued behind it.

        Woken by a job that starts, the watch first waits ``SEND_WAITING_AFTER_S`` (nothing to do before a job
        has run that long) and looks only then, with ``_busy`` left set meanwhile: a slot running jobs shorter
        than that wakes it at most once per wait, not once per job (each wake is a thread switch the slot pays)."""
        while not cold.is_set():
            self._busy.clear()
            idle = not any(lookahead.busy_since is not None for lookahead in list(self._slots))
            if idle and not self._busy.wait(IDLE_LOOK_EVERY_S):
                continue  # nothing started: look again whether the worker stopped
            if not cold.wait(SEND_WAITING_AFTER_S):
                self._look(time.monotonic())

    def _look(self, now: float) -> None:
        release_after = lookahead_module.RELEASE_AHEAD_AFTER_S
        for lookahead in list(self._slots):
            since = lookahead.busy_since
            if since is None or now - since < SEND_WAITING_AFTER_S:
                continue
            if lookahead.queue and now - since >= release_after:
                self.release_queued(lookahead)
            if lookahead.done:
                self.flush(lookahead)

    def release_queued(self, lookahead: Lookahead) -> None:
        """Behind a slow job: hand back the batch's jobs not started, to the front of the queue."""
        with lookahead.lock:
            queued, lookahead.queue = list(lookahead.queue), deque()
        for job in reversed(queued):  # each goes to the front of the queue: the last first keeps their order
            self.ahead.release_reserved(job)
        if queued:
            log.debug("%d job(s) of a batch, behind a slow job, returned to the queue", len(queued))

    def start_watch(self, cold: threading.Event) -> threading.Thread:
        thread = threading.Thread(target=self._watch_guarded, args=(cold,), name="taskora-batch-watch", daemon=True)
        thread.start()
        return thread

    def _watch_guarded(self, cold: threading.Event) -> None:
        while not cold.is_set():
            try:
                self.watch(cold)
            except Exception:  # a bug here must not stop the watch: batches behind slow jobs would wait
                log.exception("batch watch failed; restarting it")

