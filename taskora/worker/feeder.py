"""SlotFeeder: one thread that claims and acknowledges for a whole group of slots.

With a handful of slots, each slot finishing a job and claiming the next in one script call is
the cheapest loop. With dozens, those round trips run side by side, and a hundred threads waking
for a hundred replies spend more time passing the GIL around than running Python. A feeder gives
such a group one Redis conversation instead: slots hand it their completed jobs and wait for work;
it sends every completion gathered so far and a claim for every idle slot (within the prefetch bound,
``_room_for``) as one ``ack_many`` script call, and hands out what it claimed, waking one slot for it: slots
back from short jobs take the rest, and more wake only while those fall behind (``_wake``). Under load, batches form by
themselves (whatever finished while the previous call was in flight); with one job at a time, each call
carries one job.

When the queue runs dry, up to ``WATCHERS`` idle slots keep the watch: each waits as an idle slot of its own
does (on the task's marker with its claim queued behind the wait, or through the process's shared wait,
shared_wait.py) and runs the job that arrives itself, so a job reaching an idle worker is not passed from
thread to thread. With nothing else waiting, a watcher that took a job takes its place again once back
from it, and another idle slot is woken for the place meanwhile only if fewer than ``WATCHERS - 1`` still
watch (``_rejoin_watch``); a burst (the claim reports more jobs waiting) or no idle slot left hands claiming
back to the feeder, and watchers still blocked then
run whatever their own claim brings. The feeder claims only for idle slots that are not watching.
While slots watch, a slot that finishes acknowledges its job
itself: no completion ever waits on an idle queue. In a process whose idle slots share one wait
(shared_wait.py) it hands the job in as ever, and the feeder, woken, sends it at once: a slot there
holds no connection of its own. Only completed jobs go through the feeder;
failures, retries, cancels and shutdown hand-backs stay on the slot's own transitions.

In such a process (a project of many tasks) a group also starts its slot threads as jobs need them
(``start_slot``): ``FIRST_THREADS`` at first, another for each job or place on the watch or in the permit line
that no idle thread is left to take, up to its slots, and a thread idle for ``IDLE_THREAD_SECONDS`` leaves again
while more than ``FIRST_THREADS`` are idle. The feeder claims for its slots, started or not. Each task had a thread
per slot from the start: 50 tasks at ``-P threads -c 100`` ran 5,668 threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..adapters.base import CONNECTION_ERRORS, ClaimedJob, Completion
from .reconnect import OUTAGE, GaveUp, address_of, until_done

if TYPE_CHECKING:
    from ..adapters.base import Adapter, ClaimResult
    from ..task import Task
    from .budget import Permit, ReservedWait

#: A job for a slot, and the permit it starts with when the slot waited in line for one (else None).
FedJob = tuple[ClaimedJob, "Permit | None"]

log = logging.getLogger("taskora.worker")

_T = TypeVar("_T")

#: A task with at least this many slots in one process gets a feeder (measured: with fewer, a slot's
#: own fused ack-and-claim is as fast and adds no thread hand-off to a job's latency).
FEEDER_MIN_SLOTS = 8
#: How many idle slots of a fed group wait on the marker at once while the queue is empty. With one, a
#: job that arrives while the watch passes from slot to slot finds nobody waiting, reports a burst, and
#: goes through the feeder: at 4,175 jobs/s (8 slots) that was most jobs, each handed from thread to thread.
#: A slot that takes a job off the watch wakes a sleeping slot for its place only when fewer than
#: ``WATCHERS - 1`` are left watching, and takes its place again itself once back (``_rejoin_watch``): so one job
#: at a time wakes no thread beside it, and under load two slots still watch while jobs run.
WATCHERS = 3
#: A slot taking a ready job wakes a sleeping one for the jobs behind it only when the slot before it took one
#: longer ago than this (seconds): the slots awake do not keep up. 50 us is a take rate of 20,000 jobs/s, above what
#: a hundred threads of jobs that block reach here (bench/README.md, "Profiles").
SLOW_TAKES_S = 0.00005
#: When ready jobs wait and no slot took one for this long (seconds), every slot awake runs a long job: the feeder
#: wakes a sleeping slot for each ready job (``_wait_for_work``).
STALLED_TAKES_S = 0.002
#: Slot threads a group that starts them as jobs need them (``start_slot``) starts at once, and keeps idle.
FIRST_THREADS = WATCHERS + 1
#: How long a slot thread of such a group stays idle before it leaves (while more than FIRST_THREADS are idle).
IDLE_THREAD_SECONDS = 30.0


class SlotFeeder:
    """Claims for and acknowledges the jobs of a group of slot threads of one task."""

    def __init__(self, adapter: Adapter, task: Task[Any, Any], *, lock_ttl_ms: int,
                 stopping: threading.Event, cold: threading.Event, new_token: Any,
                 wait_then_claim: Callable[[int | None], ClaimResult], park: Callable[[], None] | None = None,
                 reserved_wait: ReservedWait | None = None,
                 start_slot: Callable[[], None] | None = None) -> None:  # fmt: skip
        """``wait_then_claim(next_due_ms)`` is a watching slot's wait and claim, the same as an idle slot of its
        own (the worker's: on the slot's connection, or through the process's shared wait). With ``park`` (a
        process sharing its wait) a thread lets go of its connection while it waits on this feeder, and the feeder
        sends every completion, also while slots keep the watch: a slot then never needs a connection to
        acknowledge, where a hundred slots acknowledging at once took a hundred. With ``reserved_wait`` (a running
        budget and a prefetch bound, budget.py) the feeder claims only the jobs that may start or wait within the
        bound, and when none may, one idle slot waits in line for a permit and claims with it (``_to_line_or_park``).
        With ``start_slot`` (starts one more slot thread on this feeder) the group starts its threads as jobs need
        them: ``add_slots`` says how many the caller starts now, this starts the rest when they are needed."""
        self.adapter = adapter
        self.task = task
        self.lock_ttl_ms = lock_ttl_ms
        self._stopping = stopping
        self._cold = cold
        self._new_token = new_token
        self._wait_then_claim = wait_then_claim
        self._park_connection = park or (lambda: None)
        self._sends_every_completion = park is not None
        self._reserved_wait = reserved_wait
        self._lock = threading.Lock()
        self._job_ready = threading.Condition(self._lock)  # slots wait here for a job
        self._work_ready = threading.Condition(self._lock)  # the feeder waits here for something to send
        self._ready: deque[ClaimedJob] = deque()
        self._completions: list[Completion] = []
        self._idle_slots = 0
        self._live_slots = 0  # slot threads started and not ended (``add_slots`` counts the first)
        self._start_slot = start_slot
        self._unstarted = 0  # slots of the group without a thread yet (only with ``start_slot``)
        self._starting = 0  # threads started that have not asked for work yet
        self._retiring = 0  # slots asked to leave by pool_shrink (the next idle ones do)
        self._parked = False  # True while idle slots keep the watch on the marker
        self._open_watches = 0  # places on the watch that the next idle slots take
        self._watching = 0  # slots blocked on the marker now
        self._watch_due_ms: int | None = None  # when the next delayed job is due, for the watch's timeout
        self._line_places = 0  # the place in the permit line an idle slot is to take (``_to_line_or_park``)
        self._in_line = 0  # slots in the permit line now, or claiming with the permit they got
        self._line_found_none = False  # the last slot back from the line claimed nothing: the queue ran dry
        #: Jobs in ``_ready`` counted against the prefetch bound (``_room_for``), given back as slots take them.
        self._counted_ready = 0
        self._sleeping = 0  # idle slots waiting on ``_job_ready`` now
        self._waking = 0  # of those, woken by ``_wake`` and not back yet
        self._last_take = 0.0  # when a slot last took a ready job (``time.monotonic``)

    # -- the slots' side ----------------------------------------------------------------------------
    def next_job(self, first: bool = False) -> FedJob | None:
        """Block until a job is claimed for this slot; None once the worker stops and none is left.

        While the queue is empty, up to ``WATCHERS`` idle slots take the watch instead: each waits on the
        marker itself and runs the job its own claim brings, so a job arriving at an idle worker is not
        handed from thread to thread on its way to a handler. A slot sent to the permit line claims its job
        with the permit it got (``_to_line_or_park``). A spare thread idle too long leaves (``_wait_for_turn``).
        ``first``: the thread's first call (it was counted as starting until now, ``_threads_needed``)."""
        with self._lock:
            if first:
                self._starting -= 1
            self._idle_slots += 1
            self._work_ready.notify()
            self._rejoin_watch()
            while True:
                if not self._has_turn():
                    self._park_connection()  # an idle slot holds none: it acknowledges through the feeder
                if not self._wait_for_turn():
                    self._idle_slots -= 1
                    self._unstarted += 1  # its slot stays the group's: a thread starts again when a job needs it
                    return None
                if self._ready or self._stopping.is_set() or self._retiring:
                    self._idle_slots -= 1
                    if not self._ready and not self._stopping.is_set():
                        self._retiring -= 1  # pool_shrink: this idle slot leaves (its loop ends on None)
                    return self._take_and_pass_on() if self._ready else None
                fed = self._wait_in_line() if self._line_places else self._watch_once()
                if fed is not None:
                    self._idle_slots -= 1
                    return fed

    def _wait_for_turn(self) -> bool:
        """Wait until this idle slot has a turn (lock held); False when its thread is to leave instead: in a group
        that starts threads as jobs need them, one idle for ``IDLE_THREAD_SECONDS`` while more than
        ``FIRST_THREADS`` are idle (the thread leaves, its slot does not)."""
        if self._start_slot is None:
            while not self._has_turn():
                self._sleep()
            return True
        idle_until = time.monotonic() + IDLE_THREAD_SECONDS
        while not self._has_turn():
            left = idle_until - time.monotonic()
            if left <= 0:
                if self._idle_slots > FIRST_THREADS:
                    return False
                idle_until, left = time.monotonic() + IDLE_THREAD_SECONDS, IDLE_THREAD_SECONDS
            self._sleep(left)
        return True

    def _sleep(self, timeout: float | None = None) -> None:
        """An idle slot waits for its turn (lock held), counted for ``_wake``."""
        self._sleeping += 1
        try:
            self._job_ready.wait(timeout)
        finally:
            self._sleeping -= 1
            self._waking = max(0, self._waking - 1)  # this one, or (timed out) one on its way: the next is woken

    def _wake(self, slots: int = 1) -> None:
        """Wake up to ``slots`` sleeping slots for the jobs in ``_ready``, less those on their way already (lock held).

        A batch handed out wakes one slot, not one per job. A slot back from its job takes the next ready one
        itself, and a slot taking a job wakes another only while the slots awake do not keep up (``SLOW_TAKES_S``),
        so short jobs run on the few threads awake and jobs that block start as fast as slots wake, one after
        another. Woken one per job, at ``-c 100`` each no-op job cost four or five thread switches and as many
        passes of the GIL (bench/README.md, "Profiles")."""
        woken = min(slots, self._sleeping - self._waking)
        if woken > 0:
            self._waking += woken
            self._job_ready.notify(woken)

    def _threads_needed(self) -> int:
        """Slot threads to start for the jobs and places waiting that no idle thread is left to take (lock held);
        counted as started here, so the caller starts them (``_start_threads``) with the lock released or not."""
        if not self._unstarted or self._stopping.is_set():
            return 0
        takers = self._idle_slots + self._starting - self._watching - self._in_line
        needed = min(self._unstarted, len(self._ready) + self._open_watches + self._line_places - takers)
        if needed <= 0:
            return 0
        self._unstarted -= needed
        self._live_slots += needed
        self._starting += needed
        return needed

    def _start_threads(self, count: int) -> None:
        """Start ``count`` slot threads counted by ``_threads_needed`` (lock not held). One the system refuses (its
        limit of threads) is a slot without a thread again: its jobs wait for the threads running, none is lost."""
        start = self._start_slot
        if start is None:
            return
        for started in range(count):
            try:
                start()
            except RuntimeError as exc:  # "can't start new thread"
                log.warning("%s: could not start %d slot thread(s) (%s); the running ones go on", self.task.name,
                            count - started, exc)
                with self._lock:
                    self._live_slots -= count - started
                    self._starting -= count - started
                    self._unstarted += count - started
                    self._work_ready.notify()
                return

    def _take_ready(self) -> ClaimedJob:
        """The next claimed job (lock held); its room in the prefetch bound goes back as this slot takes it, to
        start or be reserved (budget.ReservedWait): counted until then, other feeders claim no more than fits."""
        if self._counted_ready:
            self._counted_ready -= 1
            self._give_room(1)
        return self._ready.popleft()

    def _take_and_pass_on(self) -> FedJob:
        """The next ready job for this slot (lock held), waking another for the jobs behind it when takes are slow."""
        job = self._take_ready()
        now = time.monotonic()
        slow, self._last_take = now - self._last_take > SLOW_TAKES_S, now
        if slow and self._ready:
            self._wake()
        return job, None

    def _give_room(self, jobs: int) -> None:
        if jobs and self._reserved_wait is not None:
            self._reserved_wait.prefetch.give(jobs)

    def _has_turn(self) -> bool:
        """Whether an idle slot has something to do (lock held): a job, a watch or line place, a shrink, a stop."""
        return bool(self._ready or self._open_watches or self._line_places or self._retiring
                    or self._stopping.is_set())

    def _watch_once(self) -> FedJob | None:
        self._open_watches -= 1
        job = self._keep_watch(self._watch_due_ms)
        return None if job is None else (job, None)

    def _wait_in_line(self) -> FedJob | None:
        """Wait in the permit line and claim one job with the permit (called and returning with the lock held);
        the feeder claims again once this slot leaves the line, with its permit or because the bound has room."""
        assert self._reserved_wait is not None  # a line place is given only under a budget
        wait = self._reserved_wait
        self._line_places -= 1
        self._in_line += 1
        permit = admitted = None
        try:
            permit = self._unlocked(wait.wait_in_line, f"slot of {self.task.name} waiting for a permit")
            if permit is not None:
                admitted = self._unlocked(lambda: wait.claim_with(permit, self.task.name),
                                          f"slot of {self.task.name} claiming with its permit")
        finally:
            self._in_line -= 1
            self._line_found_none = permit is not None and admitted is None
            self._work_ready.notify()
        return admitted

    def _keep_watch(self, next_due_ms: int | None) -> ClaimedJob | None:
        """Wait on the marker and claim one job as the wait ends (called and returning with the lock held)."""
        self._watching += 1
        try:
            claimed = self._unlocked(lambda: self._wait_then_claim(next_due_ms),
                                     f"feeder of {self.task.name} waiting for work")
        finally:
            self._watching -= 1
        job, more = (claimed.job, claimed.more) if claimed is not None else (None, False)
        if job is not None and self._stopping.is_set():  # a stop ended the wait: it goes straight back
            unstarted, job = [job], None
            self._unlocked(lambda: self._hand_back(unstarted), f"feeder of {self.task.name} handing a job back")
        self._after_watch(job is not None, more)
        return job

    def _unlocked(self, call: Callable[[], _T], what: str) -> _T | None:
        """``call()`` with the lock released (called and returning with it held); None after a connection error,
        reported as ``what``, once the outage's pause passed."""
        self._lock.release()
        try:
            return call()
        except CONNECTION_ERRORS as exc:
            OUTAGE.lost(address_of(self.adapter), exc, what)
            self._cold.wait(0.5)
            return None
        finally:
            self._lock.acquire()

    def _after_watch(self, took_a_job: bool, more: bool) -> None:
        """Who watches next (lock held). With a job and nothing else waiting, the watch goes on: this slot takes
        its place again once back from the job (``_rejoin_watch``), and if fewer than ``WATCHERS - 1`` are left
        watching meanwhile, an idle slot is woken for it now. When more jobs wait (a burst), no slot is left to
        watch, or a wait ended without a job, the feeder takes over again. Watchers still blocked then keep
        waiting: whatever their claim brings, they run."""
        if not self._parked:  # the feeder took over while this slot waited: it claims for this slot too now
            self._work_ready.notify()
            return
        spare = self._unwatched_idle() - 1  # this slot is still counted idle until it returns its job
        if took_a_job and not more and (spare > 0 or self._watching > 0):
            if spare > 0 and self._watching + self._open_watches < WATCHERS - 1:
                self._open_watches += 1  # with the same next-due time
                self._job_ready.notify()
            return
        self._parked = False
        self._open_watches = 0
        self._work_ready.notify()

    def _rejoin_watch(self) -> None:
        """A slot back from its job takes a place on a watch short of ``WATCHERS`` itself (lock held).

        A slot that takes a job off a full watch leaves its place open (``_after_watch``) rather than wake a sleeping
        slot for it: on a worker's one CPU that wake ran beside the job's start and cost a paced pickup 20-30 us
        (bench/README.md, "Profiles"). The slot, back, is awake anyway."""
        busy_elsewhere = self._ready or self._line_places or self._retiring or self._stopping.is_set()
        if self._parked and not busy_elsewhere and self._watching + self._open_watches < WATCHERS:
            self._open_watches += 1

    def _unwatched_idle(self) -> int:
        """Idle slots free to take a watch (lock held): not watching, not promised a place on the watch, not
        about to take a ready job."""
        return (self._idle_slots + self._starting - self._watching - self._open_watches - len(self._ready)
                - self._line_places - self._in_line)

    def _free_slots(self) -> int:
        """Slots to claim for (lock held): the unwatched idle ones, and those without a thread yet, less what is
        promised already to slots that are to start (``_threads_needed``)."""
        return max(0, self._unwatched_idle() + self._unstarted)

    def complete(self, job: ClaimedJob, result: str | bytes, keep: bool) -> str | None:
        """Hand in a completed job. Returns None when the feeder will send it, or the ack's status when
        the feeder is blocked on an empty queue and the calling slot acknowledged the job itself."""
        with self._lock:
            if not self._parked or self._sends_every_completion:
                self._completions.append(Completion(job, result, keep))
                self._work_ready.notify()
                return None
        return self.adapter.ack(job, result, keep=keep).status

    def add_slots(self, n: int) -> int:
        """``n`` more slots (the group's first, or ``pool_grow``/``add_consumer``'s); returns how many threads the
        caller starts now to ask this feeder for work: all, or with ``start_slot`` up to ``FIRST_THREADS`` in
        all, the rest started as jobs need them."""
        with self._lock:
            now = n if self._start_slot is None else max(0, min(n, FIRST_THREADS - self._live_slots))
            self._live_slots += now
            self._starting += now
            self._unstarted += n - now
            self._work_ready.notify()
            return now

    def retire(self, n: int) -> None:
        """``pool_shrink``: ``n`` slots leave, those without a thread first, then the next ones that are idle
        (``next_job`` returns None to them)."""
        with self._lock:
            unstarted = min(n, self._unstarted)
            self._unstarted -= unstarted
            self._retiring += n - unstarted
            self._job_ready.notify_all()

    def slot_exited(self) -> None:
        with self._lock:
            self._live_slots -= 1
            self._work_ready.notify()

    def wake(self) -> None:
        """Called on stop: slots waiting for work and the feeder re-check the stop flag."""
        with self._lock:
            self._job_ready.notify_all()
            self._work_ready.notify()

    # -- the feeder's thread --------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            completions, wanted, last = self._take_work()
            asked, counted = self._room_for(wanted)
            if completions or asked:
                claimed, next_due_ms = 0, None
                try:
                    claimed, next_due_ms = self._exchange(completions, asked, counted)
                finally:
                    self._give_room(counted - min(claimed, counted))  # what no job came for
                if asked and claimed < asked and not self._stopping.is_set():
                    self._park(next_due_ms)
            if wanted and not asked and not self._stopping.is_set():
                self._to_line_or_park()
            if last:
                break
        self._return_unstarted()

    def _room_for(self, wanted: int) -> tuple[int, int]:
        """(How many of ``wanted`` jobs to claim, how many of those are counted against the prefetch bound): under a
        bound only those that may start at once or wait within it, counted until a slot takes each. Claimed past it,
        a job went straight back to its queue unstarted, and a slot claimed it again (1,545 of 2,050 jobs for 50
        tasks at ``-P threads -c 8``)."""
        if not wanted or self._reserved_wait is None:
            return wanted, 0
        return self._reserved_wait.prefetch.take_room(wanted)

    def _to_line_or_park(self) -> None:
        """No job may start or wait here now: one idle slot waits in the permit line, first come first served with
        every other slot of the process, and claims with its permit; the feeder claims again once it is back. When
        the last one back claimed nothing, the queue ran dry: the watch is kept instead (``_park``)."""
        with self._lock:
            found_none, self._line_found_none = self._line_found_none, False
        if found_none:
            self._park(None)
            return
        with self._lock:
            if not (self._line_places or self._in_line) and self._free_slots() > 0:
                self._line_places = 1
                self._job_ready.notify()
            starting = self._threads_needed()  # none idle: a thread to take the place
        self._start_threads(starting)

    def _take_work(self) -> tuple[list[Completion], int, bool]:
        """Wait until there is something to send; returns (completions, jobs to claim, is this the last round)."""
        with self._lock:
            while True:
                stopping = self._stopping.is_set()
                # parked: the watch claims, and this only sends what slots handed in (``_sends_every_completion``);
                # a slot in the permit line: it claims, and this claims again once it is back
                waiting_aside = self._parked or self._line_places or self._in_line
                wanted = 0 if stopping or waiting_aside else self._free_slots()
                last = stopping and self._live_slots == 0
                if self._completions or wanted or last:
                    completions, self._completions = self._completions, []
                    return completions, wanted, last
                if self._parked:
                    self._park_connection()
                self._wait_for_work()

    def _wait_for_work(self) -> None:
        """The feeder waits for something to send (lock held). While jobs are ready and slots sleep, it looks again
        after ``STALLED_TAKES_S``: when no slot took a job meanwhile, every slot awake runs a long job, and a sleeping
        slot is woken for each ready job (``_wake`` woke one for them)."""
        if not (self._ready and self._sleeping > self._waking):
            self._work_ready.wait()
            return
        last_take = self._last_take
        self._work_ready.wait(STALLED_TAKES_S)
        if self._last_take == last_take and self._ready:
            self._wake(len(self._ready))

    def _exchange(self, completions: list[Completion], wanted: int, counted: int = 0) -> tuple[int, int | None]:
        """Send the completions and claim up to ``wanted`` jobs; resends until Redis answers (a resent
        completion finds its job no longer held and reports 'lost', never completing it twice)."""
        def send() -> Any:
            return self.adapter.ack_many(self.task.name, completions, claim=wanted, token=self._new_token(),
                                         lock_ttl_ms=self.lock_ttl_ms)

        try:
            batch = until_done(address_of(self.adapter), send, self._cold)
        except GaveUp as exc:
            log.warning("%s: %d completion(s) not recorded before shutdown (%s); stall recovery will run "
                        "them again", self.task.name, len(completions), exc)
            return 0, None
        for completion, status in zip(completions, batch.statuses, strict=True):
            if status == "lost":
                log.warning("job %s (%s): lock lost while running; its outcome was dropped", completion.job.id,
                            self.task.name)
        if batch.jobs:
            self._hand_out(batch.jobs, min(counted, len(batch.jobs)))
        return len(batch.jobs), batch.next_due_ms

    def _park(self, next_due_ms: int | None) -> None:
        """With the queue empty, hand the wait on the marker to an idle slot (see ``next_job``) and sleep
        until it ends; slots acknowledge for themselves meanwhile, or (``_sends_every_completion``) hand their
        jobs in, and this returns to send them while the watch goes on."""
        with self._lock:
            if self._completions:  # something arrived meanwhile: send it first
                return
            self._parked, self._watch_due_ms = True, next_due_ms
            self._line_found_none = False  # parked now: an older 'the queue ran dry' must not park it again later
            spare = self._free_slots()
            self._open_watches = max(0 if self._watching else 1, min(WATCHERS - self._watching, spare))
            self._job_ready.notify(len(self._ready) + self._open_watches)  # a ready job first, then the watch
            starting = self._threads_needed()  # for places on the watch no idle thread is left to take
            if starting:
                self._unlocked(lambda: self._start_threads(starting), f"feeder of {self.task.name} starting slots")
            self._park_connection()
            while self._parked and not self._stopping.is_set() and not self._completions:
                self._work_ready.wait()
            if not self._parked or self._stopping.is_set():
                self._open_watches = 0  # else the watch goes on while this sends what slots handed in

    def _hand_out(self, jobs: list[ClaimedJob], counted: int = 0) -> None:
        with self._lock:
            self._ready.extend(jobs)
            self._counted_ready += counted
            self._wake()
            starting = self._threads_needed()
        self._start_threads(starting)  # for the jobs no idle thread is left to take

    def _return_unstarted(self) -> None:
        """Jobs claimed for slots that stopped before taking them go back to the front of the queue."""
        with self._lock:
            unstarted, self._ready = list(self._ready), deque()
            counted, self._counted_ready = self._counted_ready, 0
        self._give_room(counted)
        self._hand_back(unstarted)

    def _hand_back(self, jobs: list[ClaimedJob]) -> None:
        for job in jobs:
            try:
                self.adapter.nack(self.task.name, job.id, job.token, unstarted=True)
            except CONNECTION_ERRORS as exc:
                OUTAGE.lost(address_of(self.adapter), exc)
                log.debug("job %s (%s): could not be handed back (%s); stall recovery will", job.id,
                          self.task.name, exc)
