"""The in-process worker: claim, run, finish, and keep held jobs alive.

Each task gets ``concurrency`` slot threads; with ``max_running`` a budget (budget.py) lets at most that
many handlers of any task run at once, claimed jobs waiting for it as reserved jobs. An idle slot blocks on
the task's marker with its claim queued behind the wait (Redis runs it as the wait ends), runs the job, and
finishes it with a fused finish-and-claim-next script, so a busy slot costs one round trip per job; after short jobs it
claims ahead (up to two requests in flight) and runs a job it holds while those are on their way (lookahead.py,
claims_ahead.py). Beside
the slots run a heartbeat (heartbeat.py: extends the locks of held jobs, learns of cancels), a cancel
listener (cancels.py: pub/sub, instant cancel) and maintenance (maintenance.py: stall sweep, retention).
The Worker owns these collaborators and the registry of what it holds (held.py); it wires them together,
runs the slots and records outcomes through outcomes.py.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..adapters.base import CONNECTION_ERRORS, ClaimedJob, ClaimResult, stop_spinning_in_this_process
from ..errors import MalformedJobError, SchemaVersionMismatchError, SerializationError
from ..ids import lock_token
from ..job_thread import ran_here
from ..rate_limits import apply_rate_limits
from ..version_handoff import is_too_new, leave_for_newer_worker
from ..workflow import hooks as workflow_hooks
from .abandoned import holding
from .budget import Permit, ReservedWait, RunBudget, check_max_running
from .cancels import CancelListener
from .claims_ahead import ClaimsAhead
from .executor import Executor, Outcome
from .failures import described
from .feeder import FEEDER_MIN_SLOTS, SlotFeeder
from .heartbeat import Heartbeat
from .held import HeldJobs
from .idle import DueAlarm, wait_then_claim, wait_timeout
from .job_hooks import JobHooks
from .liveness import Liveness
from .lookahead import ClaimWatch, Lookahead
from .maintenance import Maintenance
from .outcomes import Outcomes
from .prefetch_room import with_next_claim
from .quarantine import Quarantine
from .reconnect import OUTAGE, Backoff, address_of, once
from .resize import Retirements
from .runtime import JobRuntime, lock_ttl_ms
from .shared_wait import SharedWait, idle_waits, shared_from_slots
from .stop_wake import wake_or_cut
from .store_changed import STORE_CHANGES
from .threads import ServiceThreads

if TYPE_CHECKING:
    from ..app import Taskora
    from ..task import Task

log = logging.getLogger("taskora.worker")

_new_token = lock_token


class Worker:
    """Runs the handlers of ``tasks`` in this process until ``stop()``."""

    def __init__(self, app: Taskora, tasks: Iterable[Task[Any, Any]], *, concurrency: int | None = None,
                 name: str | None = None, max_running: int | None = None) -> None:  # fmt: skip
        self.app = app
        app._dispatch_waits = True  # what its handlers dispatch is in Redis before they end (background.py)
        limit = check_max_running(max_running)
        #: At most this many handlers run at once in this process (budget.py); None: each task's slots bound it.
        self.budget = None if limit is None else RunBudget(limit)
        self.adapter = app.adapter
        #: The broker's address (password masked) for outage logs (reconnect.py).
        self._address = address_of(self.adapter)
        self.tasks = [t for t in tasks if t.handler is not None]
        self.concurrency = concurrency
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self.wake_id = uuid.uuid4().hex[:12]  # its own wake key's name (Keys.own_wake); two workers may share a name
        self.executor = Executor(app)
        #: This process's liveness key and lock tokens (liveness.py); plain tokens until ``start()`` beats.
        self.liveness = Liveness(self.adapter, self.name)
        self._new_token = _new_token
        #: Observers with ``job_started(runtime)`` / ``job_finished(runtime, outcome)`` (CLI logs, prefork
        #: supervisor bookkeeping); called in the slot thread, errors logged and ignored.
        self.job_hooks = JobHooks()
        self._hold_jobs()
        #: Claims slots sent ahead and have not read; a job such a claim took is handed back once the job
        #: before it has run too long (lookahead.py).
        self._claim_watch = ClaimWatch()
        #: Ends idle slots' waits the moment a delayed job falls due (idle.py).
        self._due_alarm = DueAlarm(self.adapter)
        self.processed = 0
        self._stopping = threading.Event()
        self._cold = threading.Event()
        #: Set by the stop that tears the worker down; a second stop running beside it (a warm stop still waiting
        #: for a stuck handler after a cold one finished) leaves the torn-down worker alone.
        self._torn_down = False
        #: Set once the stop found Redis silent and cut its connections: the tear-down's goodbyes are skipped then.
        self._cut = False
        self._teardown_lock = threading.Lock()
        self.service = ServiceThreads(app.events, self._cold)
        self._threads: list[threading.Thread] = []
        self._slot_threads: list[threading.Thread] = []
        self._fed_spawn_lock = threading.Lock()
        self._fed_threads_started: dict[str, int] = {}  # per task: names the next thread of a group with a feeder
        self._feeders: list[tuple[SlotFeeder, threading.Thread]] = []
        #: Slots per task now (``pool_grow``/``pool_shrink`` change it live, resize.py), and slots asked to leave.
        self.slot_counts: dict[str, int] = {}
        self.retirements = Retirements()
        self._feeder_of: dict[str, SlotFeeder] = {}
        self._resize_lock = threading.Lock()
        #: The one wait of this process's idle slots when it has many (shared_wait.py); None: each waits on its own.
        self._shared_wait: SharedWait | None = None
        self._shared_from = shared_from_slots()  # a bad $TASKORA_SHARED_WAIT_FROM is refused before anything starts
        self._make_collaborators()

    def _hold_jobs(self) -> None:
        """The jobs held here (held.py). ``active``: running; ``reserved``: claimed ahead (lookahead.py), not
        started, kept by the heartbeat; ``_cancel_before_start``: cancels of jobs not running here, so a job
        claimed (ahead, or with a reply on its way) and not started yet never starts."""
        self.held = HeldJobs()
        #: Runs a job handed back from a process that died with it alone here (quarantine.py).
        self.quarantine = Quarantine(self.held, self.job_hooks.call)
        self.active, self.reserved = self.held.active, self.held.reserved
        self._cancel_before_start, self._active_lock = self.held.cancel_before_start, self.held.lock

    def _make_collaborators(self) -> None:
        """The parts the worker owns beside its slots, each sharing what it holds (``held``) and its stop flags."""
        app, address = self.app, self._address
        self.cancels = CancelListener(self.adapter, self.tasks, self.held, self._cold, address)
        self.heartbeat = Heartbeat(self.adapter, self.tasks, self.held, app.get_task, address,
                                   lambda: app.events.emit("worker:heartbeat", self))
        self.maintenance = Maintenance(app, self.tasks, self._cold, address)
        self.outcomes = Outcomes(app, self.held, self._cold, address)
        self.ahead = ClaimsAhead(app, self.held, self.outcomes, self._claim_watch, stopping=self._stopping,
                                 cold=self._cold, new_token=lambda: self._new_token(), notify=self.job_hooks.call,
                                 address=address, budget=self.budget)
        self._reserved_wait = None if self.budget is None else ReservedWait(
            self.budget, self.ahead.prefetch, self._stopping, self.job_hooks.call, self.ahead.release_reserved,
            self.adapter.now_ms, self._claim_now)
        if self.budget is not None:
            self.held.wake_waiters = self.budget.wake

    # -- lifecycle ----------------------------------------------------------------------------
    def slots_for(self, task: Task[Any, Any]) -> int:
        if task.name in self.slot_counts:
            return self.slot_counts[task.name]
        return self.concurrency if self.concurrency is not None else task.options.concurrency

    def start(self) -> None:
        stop_spinning_in_this_process()  # TASKORA_SPIN_US is for processes that dispatch (adapters/reply_spin.py)
        self.adapter.connect()
        self.liveness.beat()  # before any claim under a token that names this worker
        self._new_token = self.liveness.new_token  # names this worker once its key is written
        apply_rate_limits(self.app, self.tasks)  # the tasks' declared limits, shared with every other worker
        self.cancels.subscribe()  # before any claim, so no cancel of a job we hold can be missed
        self._share_waits_if_many()
        for task in self.tasks:
            slots = self.slots_for(task)
            if slots >= FEEDER_MIN_SLOTS:
                self._feeder_of[task.name] = self._start_feeder(task)
            self._spawn_slots(task, 0, slots)
        self._threads.append(self._spawn("taskora-due-alarm", self._due_alarm.run, restart=True))
        self._threads.append(self._spawn("taskora-claim-watch", self.ahead.watch, restart=True))
        self._threads.append(self._spawn("taskora-heartbeat", self.heartbeat.run, self._cold, restart=True))
        self._threads.append(self._spawn("taskora-liveness", self.liveness.beat_until, self._cold, restart=True))
        self._threads.append(self._spawn("taskora-reclaim", self.liveness.reclaim_until, self.tasks, self._cold,
                                         restart=True))
        self._threads.append(self._spawn("taskora-maintenance", self.maintenance.run, restart=True))
        self._threads.append(self._spawn("taskora-cancel", self.cancels.run, restart=True))
        self.app.events.emit("worker:ready", self)

    def _share_waits_if_many(self) -> None:
        """Give the idle slots one wait (shared_wait.py) when this process has ``SHARED_FROM_SLOTS`` idle waits or
        more (``$TASKORA_SHARED_WAIT_FROM``), as the worker starts (a later grow keeps what it chose)."""
        threshold = self._shared_from
        if threshold is None or idle_waits(map(self.slots_for, self.tasks)) < threshold \
                or not self.adapter.shares_waits():
            return
        self._shared_wait = SharedWait(self.adapter, self.wake_id, self._cold, self._address)
        if self._reserved_wait is not None:
            self._reserved_wait.park = self.adapter.park_connection
        self._threads.append(self._spawn("taskora-shared-wait", self._shared_wait.run, restart=True))

    def _spawn_slots(self, task: Task[Any, Any], first: int, count: int) -> None:
        """``count`` more slots of ``task``: a thread each, or for a group with a feeder the threads it starts now
        (``SlotFeeder.add_slots``: in a process of many tasks, a few, and the rest as jobs need them)."""
        feeder = self._feeder_of.get(task.name)
        if feeder is None:
            for i in range(first, first + count):
                self._slot_threads.append(self._spawn(f"taskora-slot-{task.name}-{i}", self._slot_loop, task))
        else:
            for _ in range(feeder.add_slots(count)):
                self._spawn_fed_slot(task.name, feeder)
        self.slot_counts[task.name] = first + count

    def _spawn_fed_slot(self, task_name: str, feeder: SlotFeeder) -> None:
        """One more slot thread of a group with a feeder (at its start, or started by the feeder as a job needs it);
        threads that left are forgotten here, so a long-lived worker's list holds the live ones and a few more."""
        with self._fed_spawn_lock:  # never held while taking another lock: the feeder calls this under its own
            number = self._fed_threads_started[task_name] = self._fed_threads_started.get(task_name, 0) + 1
            if len(self._slot_threads) > 2 * sum(map(self.slots_for, self.tasks)) + 64:
                self._slot_threads = [thread for thread in self._slot_threads if thread.is_alive()]
            self._slot_threads.append(self._spawn(f"taskora-slot-{task_name}-{number - 1}", self._fed_slot_loop,
                                                  feeder))

    def size(self) -> int:
        """Slots per task now (the largest, should tasks differ)."""
        return max((self.slots_for(t) for t in self.tasks), default=0)

    def grow(self, n: int) -> int:
        """``n`` more slots for each task, serving at once; returns the new size."""
        with self._resize_lock:
            for task in self.tasks:
                current = self.slots_for(task)
                if current == 0:  # not served (cancel_consumer)
                    continue
                self._spawn_slots(task, current, n)
        return self.size()

    def shrink(self, n: int) -> int:
        """Ask ``n`` slots of each task (keeping at least one) to leave once they hold no job; returns the new size.
        Idle slots are woken to leave at once; busy ones finish their job first (resize.py)."""
        with self._resize_lock:
            for task in self.tasks:
                current = self.slots_for(task)
                leaving = min(n, current - 1)
                if leaving <= 0:
                    continue
                self.slot_counts[task.name] = current - leaving
                feeder = self._feeder_of.get(task.name)
                if feeder is not None:
                    feeder.retire(leaving)
                else:
                    self.retirements.add(task.name, leaving)
                    self._wake_idle(task.name, leaving)
        return self.size()

    def serve_tasks(self, tasks: list[Task[Any, Any]], slots: int) -> None:
        """``add_consumer``: start ``slots`` slots for each of ``tasks`` (new to this worker, or dropped before)."""
        apply_rate_limits(self.app, [t for t in tasks if t not in self.tasks])  # their declared limits, as at start
        with self._resize_lock:
            for task in tasks:
                if task not in self.tasks:
                    self.tasks.append(task)  # the heartbeat, maintenance and cancel listener share this list
                    self.cancels.add_channel(task)
                self._spawn_slots(task, self.slot_counts.get(task.name, 0), slots)

    def drop_tasks(self, names: set[str]) -> None:
        """``cancel_consumer``: every slot of these tasks leaves once it holds no job (running jobs finish, and
        the heartbeat keeps their locks meanwhile)."""
        with self._resize_lock:
            for task in self.tasks:
                count = self.slot_counts.get(task.name, 0)
                if task.name not in names or count == 0:
                    continue
                self.slot_counts[task.name] = 0
                feeder = self._feeder_of.get(task.name)
                if feeder is not None:
                    feeder.retire(count)
                else:
                    self.retirements.add(task.name, count)
                self._wake_idle(task.name, count)

    def _wake_idle(self, task: str, count: int) -> None:
        """Wake ``count`` of this worker's idle slots of ``task`` (a shrink, a dropped task): they look again."""
        if self._shared_wait is not None:
            self._shared_wait.wake(task)
        self._safely(self.adapter.wake_workers, task, count, self.wake_id)

    def _start_feeder(self, task: Task[Any, Any]) -> SlotFeeder:
        """A feeder for ``task``'s slots. In a process whose idle slots share one wait (many tasks) its threads park
        their connections and start as jobs need them: a thread per slot of every task added up to thousands."""
        ttl = self._lock_ttl_ms(task)
        shared = self._shared_wait is not None
        feeder = SlotFeeder(self.adapter, task, lock_ttl_ms=ttl, stopping=self._stopping, cold=self._cold,
                            new_token=self._new_token,
                            wait_then_claim=lambda next_due_ms: self._wait_then_claim(task, next_due_ms, ttl),
                            reserved_wait=self._reserved_wait,
                            park=self.adapter.park_connection if shared else None,
                            start_slot=(lambda: self._spawn_fed_slot(task.name, feeder)) if shared else None)
        self._feeders.append((feeder, self._spawn(f"taskora-feeder-{task.name}", feeder.run, restart=True)))
        return feeder

    def _spawn(self, name: str, target: Any, *args: Any, restart: bool = False) -> threading.Thread:
        return self.service.spawn(name, target, *args, restart=restart)

    def stop(self, timeout: float | None = None, *, cold: bool = False) -> bool:
        """Warm stop: claim nothing more, let active jobs finish (up to ``timeout``), then return.

        Cold stop (``cold=True``, or a warm stop that runs out of time): active jobs are told to
        abort and handed back to the queue unfinished, so another worker runs them; nothing is lost.
        Returns True when every active job finished here.
        """
        self.app.events.emit("worker:closing", self)
        self._stopping.set()
        if self.budget is not None:
            self.budget.wake()  # reserved jobs go back to their queues, uncharged
        if self._shared_wait is not None:
            self._shared_wait.wake()
        wakes = [(task.name, self.slots_for(task)) for task in self.tasks]
        self._cut = not wake_or_cut(self.adapter, self._address, wakes, self.wake_id)
        for feeder, _thread in self._feeders:
            feeder.wake()
        if cold:
            self._abort_active()
        deadline = None if timeout is None else time.monotonic() + timeout
        finished = self._join(self._slot_threads, deadline)
        if not finished:
            self._abort_active()
            finished = self._join(self._slot_threads, time.monotonic() + 1.0)
        self._join([thread for _feeder, thread in self._feeders], time.monotonic() + 5.0)  # their last acks
        with self._teardown_lock:
            if not self._torn_down:
                self._tear_down()
        return finished

    def _tear_down(self) -> None:
        """Once per worker: hand back what is still held, end the service threads, and say this worker is gone."""
        self._torn_down = True
        self._cold.set()
        self._claim_watch.close()
        self._due_alarm.close()
        if self._shared_wait is not None:
            self._shared_wait.close()
        self._requeue_abandoned()
        self._join(self._threads, time.monotonic() + 2.0)
        if self._cut:  # Redis went silent: each goodbye would wait out its timeout; the keys lapse by themselves
            log.debug("stopping without removing this worker's keys: its connections to Redis were cut")
        else:
            self._safely(self.adapter.forget_wakes, [task.name for task in self.tasks], self.wake_id)
            self.liveness.gone()
        self.executor.async_loop.stop()

    _join = staticmethod(ServiceThreads.join)

    def _abort_active(self) -> None:
        self._cold.set()
        with self._active_lock:
            runtimes = list(self.active.values())
        for runtime in runtimes:
            runtime.signal.abort("shutdown")

    def _requeue_abandoned(self) -> None:
        with self._active_lock:
            abandoned = list(self.active.values())
            self.active.clear()
            reserved = list(self.reserved.values())
        for runtime in abandoned:
            if self._safely(self.adapter.nack, runtime.task_name, runtime.id, runtime.claimed.token):
                log.warning("job %s (%s) did not stop in time; returned to the queue", runtime.id, runtime.task_name)
        for job in reserved:  # held ahead by a slot that is still stuck in its handler
            self.ahead.release_reserved(job)

    def _safely(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)``, or None when Redis is unreachable (reported once per outage, reconnect.py)."""
        return once(self._address, fn, *args)

    # -- slots --------------------------------------------------------------------------------
    def _slot_loop(self, task: Task[Any, Any]) -> None:
        lookahead = Lookahead()
        job: ClaimedJob | None = None
        backoff = Backoff()
        while not self._stopping.is_set() or job is not None:
            if job is None and self.retirements.take(task.name):
                break  # pool_shrink: this slot holds nothing now, so it leaves (lookahead handed back below)
            claimed, job = job, None  # whatever happens below, a job is handed to _process once
            started = time.monotonic()
            try:
                if claimed is not None:
                    job = self._process(claimed, lookahead=lookahead)
                else:
                    self.ahead.settle(lookahead)
                    job = self.ahead.pop_or_flush(lookahead) or self._claim_next(task, lookahead)
                OUTAGE.back(started)
                backoff.reset()
            except CONNECTION_ERRORS as exc:
                OUTAGE.lost(self._address, exc, f"slot of {task.name}", started)
                if not backoff.wait(self._stopping):
                    self._after_reconnect()
            except Exception as exc:  # a bug here must not take the slot down with it, nor leave its job active
                self._report_slot_error(task.name, claimed)
                self.outcomes.fail_held(claimed, exc)
                backoff.wait(self._stopping)
        self.ahead.give_back(lookahead)

    def _fed_slot_loop(self, feeder: SlotFeeder) -> None:
        """A slot of a group with a feeder: take a claimed job, run it, hand it back, repeat."""
        try:
            first = True
            while (fed := feeder.next_job(first)) is not None:
                first = False
                job, permit = fed
                try:
                    self._process(job, feeder, permit=permit)
                except Exception as exc:  # a bug here must not take the slot down with it, nor leave its job active
                    self._report_slot_error(feeder.task.name, job)
                    self.outcomes.fail_held(job, exc)
        finally:
            feeder.slot_exited()

    @staticmethod
    def _report_slot_error(task: str, job: ClaimedJob | None) -> None:
        """An unexpected error in a slot: logged (the job it held is failed by ``fail_held``), the slot carries on."""
        held = f" while holding job {job.id}" if job is not None else ""
        log.exception("slot of %s: unexpected error%s; the slot carries on", task, held)

    def _after_reconnect(self) -> None:
        """A restarted Redis may have lost ``taskora:meta``; write it again before going on. A store replaced
        meanwhile is waited out like an outage (reported as such), never a crash of the slot."""
        try:
            self.adapter.handshake()
        except CONNECTION_ERRORS:
            return
        except SchemaVersionMismatchError as refused:  # through a connection opened before the store changed
            OUTAGE.lost(self._address, refused, "handshake after reconnecting")
            return
        STORE_CHANGES.forget(self._address)  # the store is right (again): a later replacement is logged anew

    def run_until_idle(self, limit: int = 100_000) -> int:
        """Claim and run every due job of this worker's tasks in the calling thread, until none is left.

        No threads, no blocking: the synchronous mode behind ``taskora.testing.TestRunner``.
        Returns how many jobs ran.
        """
        ran, progressed = 0, True
        while progressed and ran < limit:
            progressed = False
            for task in self.tasks:
                job = self.adapter.claim(task.name, self._new_token(), self._lock_ttl_ms(task)).job
                while job is not None and ran < limit:
                    job = self._process(job)
                    ran += 1
                    progressed = True
        return ran

    def _fused(self, claims_next: bool, lookahead: Lookahead | None,
               send: Callable[[str | None], ClaimResult]) -> ClaimResult:  # fmt: skip
        """``send(next_token)``: a finished job's outcome, with the slot's next claim fused in when it claims one
        and that job may start or wait (prefetch_room.py, ``with_next_claim``)."""
        if not claims_next:
            return send(None)
        return with_next_claim(self.ahead.prefetch, lookahead, self._new_token, send)

    def _claim_next(self, task: Task[Any, Any], lookahead: Lookahead) -> ClaimedJob | None:
        """The slot's next job when it holds none. Under a running budget the job must be able to start at once or
        wait within the prefetch bound (prefetch_room.py, ``take_one``): if neither, the slot claims once a permit
        is its own, or tries again once the bound has room; the permit rides in ``lookahead`` to ``_process``."""
        wait = self._reserved_wait
        if wait is None or self.retirements.pending(task.name):
            return self._claim_or_wait(task)
        taken = wait.prefetch.take_one()
        if taken is None:
            permit = wait.wait_in_line()
            if permit is None:  # a stop came (it claims nothing more), or room: the slot's next turn takes it
                return None
            admitted = wait.claim_with(permit, task.name)
            if admitted is None:  # none due: it waits for one, as any idle slot
                return self._claim_or_wait(task)
            lookahead.give_permit(admitted[1])
            return admitted[0]
        claimed = self._claim_with_room(task, lookahead, *taken)
        return claimed.job if claimed.job is not None else self._claim_or_wait(task, claimed)

    def _claim_with_room(self, task: Task[Any, Any], lookahead: Lookahead, counted: int,
                         permit: Permit | None) -> ClaimResult:  # fmt: skip
        """One claim without waiting, with the room or the permit ``take_one`` took for its job: the permit goes
        with the job to ``_process`` (through ``lookahead``), or back at once when none came or the claim failed."""
        try:
            claimed = self.maintenance.parked.claim(task, self._new_token(), self._lock_ttl_ms(task))
        except BaseException:
            if permit is not None:
                permit.release()
            raise
        finally:
            self.ahead.prefetch.give(counted)
        if claimed.job is None:
            if permit is not None:
                permit.release()  # the wait that follows holds nothing
        else:
            lookahead.give_permit(permit)
        return claimed

    def _claim_or_wait(self, task: Task[Any, Any], claimed: ClaimResult | None = None) -> ClaimedJob | None:
        """Claim a job (unless ``claimed`` is a claim made just now that found none); with none to claim, wait for
        one and claim it as the wait ends. A job claimed by a wait that a stop ended goes straight back to the
        front of the queue."""
        ttl = self._lock_ttl_ms(task)
        if self.retirements.pending(task.name):
            return None  # a slot is to leave: this one claims nothing and leaves on its next turn
        parked = self.maintenance.parked  # jobs parked for this worker's version are claimed first (version_handoff)
        if claimed is None:
            claimed = parked.claim(task, self._new_token(), ttl)
        while claimed.job is None and not self._stopping.is_set() and not self.retirements.pending(task.name):
            claimed = self._wait_then_claim(task, claimed.next_due_ms, ttl)
            if claimed.job is None and parked.waiting_for(task):
                claimed = parked.claim(task, self._new_token(), ttl)
            if claimed.job is not None and self._stopping.is_set():
                self.adapter.nack(task.name, claimed.job.id, claimed.job.token, unstarted=True)
                return None
        return claimed.job

    def _wait_then_claim(self, task: Task[Any, Any], next_due_ms: int | None, ttl: int) -> ClaimResult:
        """An idle slot's wait and the claim as it ends: fused on the slot's own connection (idle.py), or, among many
        slots, through the shared wait, whose watch claims for the slot as the marker wakes; the slot claims itself
        after a wait that timed out or failed (nothing when a stop or a shrink woke it)."""
        shared = self._shared_wait
        if shared is None:
            return wait_then_claim(self.adapter, task.name, next_due_ms, self._new_token(), ttl, self._due_alarm,
                                   self.wake_id)
        claimed = shared.wait(task.name, wait_timeout(self.adapter, next_due_ms),
                              lambda: self.adapter.claim(task.name, self._new_token(), ttl))
        if claimed is not None:
            return claimed  # should a stop have come meanwhile, the caller hands its job back
        if self._stopping.is_set() or self.retirements.pending(task.name):
            return ClaimResult()
        return self.adapter.claim(task.name, self._new_token(), ttl)

    _lock_ttl_ms = staticmethod(lock_ttl_ms)

    def _claim_now(self, task_name: str) -> ClaimedJob | None:
        """One job of ``task_name`` if one is due, without waiting (budget.py: a slot holding a permit)."""
        return self.adapter.claim(task_name, self._new_token(), self._lock_ttl_ms(self.app.get_task(task_name))).job

    def _process(self, job: ClaimedJob, feeder: SlotFeeder | None = None, lookahead: Lookahead | None = None,
                 permit: Permit | None = None) -> ClaimedJob | None:  # fmt: skip
        """Run ``job`` (under a budget, once a permit is its own: ``permit``, one its slot waited in line for)."""
        if self._reserved_wait is not None:
            admitted = self._reserved_wait.wait(job, permit or (None if lookahead is None else lookahead.take_permit()))
            if admitted is None:
                return None  # handed back (a stop, the prefetch bound), cancelled or lost while it waited
            job, permit = admitted  # another job of its task when the bound turned this one back
        if permit is None:  # no budget: no permit for a limit to hand over (abandoned.py)
            return self._process_held(job, feeder, lookahead, None)
        try:
            with holding(job.id, permit):  # a handler abandoned past its limit keeps the permit (abandoned.py)
                return self._process_held(job, feeder, lookahead, permit)
        finally:
            permit.release()

    def _process_held(self, job: ClaimedJob, feeder: SlotFeeder | None, lookahead: Lookahead | None,
                      permit: Permit | None) -> ClaimedJob | None:  # fmt: skip
        task = self.app.get_task(job.task)
        try:
            runtime = JobRuntime(task, job, self.adapter, self.app.serializer, self._lock_ttl_ms(task))
        except (TypeError, ValueError) as exc:  # a field it cannot read: it would fail the same way every time
            self.outcomes.fail_held(job, MalformedJobError(f"{job.task} job {job.id} cannot be run: {described(exc)}"))
            return None
        if is_too_new(task, runtime.version):  # dispatched by newer code: never run nor failed here
            self._safely(leave_for_newer_worker, self.adapter, task, job, runtime.version)  # else: stall recovery
            return None
        with self.quarantine.admit(job) as still_ours:
            return self._run(runtime, feeder, lookahead, permit) if still_ours else None  # else: lost meanwhile

    def _run(self, runtime: JobRuntime, feeder: SlotFeeder | None, lookahead: Lookahead | None,
             permit: Permit | None = None) -> ClaimedJob | None:  # fmt: skip
        """Run one held job's handler and record its outcome; returns the job its slot claimed next, if any."""
        job = runtime.claimed
        ran_here(job.id)  # what this thread dispatches for it (a workflow's next step) names it (job_thread.py)
        with self._active_lock:
            self.active[job.id] = runtime
            cancelled = bool(self._cancel_before_start) and job.id in self._cancel_before_start
            if cancelled:  # cancelled after it was claimed, before it started: it never starts
                del self._cancel_before_start[job.id]
        self.job_hooks.call("job_started", runtime)
        try:
            if cancelled:
                runtime.signal.abort("cancelled")  # the executor finds it so and never starts the handler
            outcome = self.executor.execute(runtime)
        finally:
            if permit is not None:
                permit.release()  # before the finishing round trip: the next job in line runs meanwhile
            with self._active_lock:
                still_ours = self.active.pop(job.id, None) is not None
        if not still_ours:  # a cold stop already handed it back
            self.job_hooks.call("job_finished", runtime, None)
            return None
        self.processed += 1
        next_job = self.outcomes.reliably(runtime, lambda: self._finish(runtime, outcome, feeder, lookahead)).job
        self.job_hooks.call("job_finished", runtime, outcome)
        return next_job

    # -- finishing ------------------------------------------------------------------------------
    def _finish(self, runtime: JobRuntime, outcome: Outcome, feeder: SlotFeeder | None = None,
                lookahead: Lookahead | None = None) -> ClaimResult:  # fmt: skip
        """Record the outcome and say which job runs next. A slot of its own claims its next job in the same
        call, or, holding one claimed ahead already, runs that one while this call's reply is on its way;
        a fed slot hands a completed job to its feeder."""
        task = runtime.task
        if lookahead is not None:
            self.ahead.settle_to_finish(lookahead)  # an earlier reply first: it may bring the next job
        holds_next = lookahead is not None and lookahead.holds()
        # a leaving slot claims no next; nor does one whose next claim takes a job parked for it (version_handoff)
        stopping = (self._stopping.is_set() or self.retirements.pending(task.name)
                    or self.maintenance.parked.waiting_for(task))
        claims_next = not (stopping or feeder is not None or holds_next)
        ttl = self._lock_ttl_ms(task)
        if runtime.signal.reason == "shutdown" and outcome.kind != "completed":
            self.adapter.nack(task.name, runtime.id, runtime.claimed.token)
            return ClaimResult()
        if outcome.kind == "cancelled":
            return self.ahead.next_after(lookahead, self.outcomes.finish_cancelled(runtime), outcome)
        payload: str | bytes = ""
        if outcome.kind == "completed":
            try:
                payload = self.app.serializer.dumps(outcome.result)
            except SerializationError as exc:  # a result nobody could read back fails the attempt, saying why
                outcome.kind, outcome.result, outcome.error = "failed", None, exc
        if outcome.kind == "completed":
            keep = task.options.keep_result
            workflow_hooks.on_completed(self.app, runtime.fields, payload)  # before ack: a crash re-runs it
            if lookahead is not None and self.ahead.batches is not None and not stopping:
                batched = self.ahead.batches.finish(lookahead, runtime, payload, keep, outcome.duration, ttl)
                if batched is not None:
                    return batched
            if feeder is not None:
                result = ClaimResult(status=feeder.complete(runtime.claimed, payload, keep))
            elif holds_next and not stopping and Lookahead.worth_it(outcome.duration) \
                    and (fused := self.ahead.finish_ahead(lookahead, runtime, payload, keep, ttl)) is not None:
                return fused  # else the prefetch bound had no room: acknowledged below, the held job runs next
            else:
                result = self._fused(claims_next, lookahead, lambda token: self.adapter.ack(
                    runtime.claimed, payload, keep=keep, next_token=token, lock_ttl_ms=ttl))
        else:
            assert outcome.error is not None
            plan = self.outcomes.plan_failure(runtime, outcome.error)
            ahead = None if stopping else self.ahead.fail_ahead(lookahead, runtime, plan, outcome.duration)
            if ahead is not None:
                return ahead
            error = outcome.error
            result = self._fused(claims_next, lookahead,
                                 lambda token: self.outcomes.finish_failed(runtime, error, token, ttl, plan))
        self.outcomes.warn_if_lost(runtime, result.status)
        return self.ahead.next_after(lookahead, result, outcome)
