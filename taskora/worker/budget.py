"""RunBudget: at most N handlers run at once in this process, whatever task they belong to.

A worker gives each task its own slots (``concurrency`` per task), so by default a process serving 20
tasks with ``concurrency=4`` may run 80 jobs at once. A Celery user's ``-c 4`` means four jobs at a time
for the whole worker, ``solo`` one, and a prefork child one: a budget bounds that. Slots still claim as
before (each blocks on its own task's queue, holding nothing); a slot that claimed a job then waits here
for a permit before it runs the handler, and gives the permit back as soon as the handler returns (before
the finishing round trip), so a slot never holds a permit while it waits on Redis.

A claimed job waiting for a permit is *reserved* (Celery's prefetched message): it stays in
``HeldJobs.reserved``, so the heartbeat extends its lock, a cancel hands it back as cancelled, a stop
(warm or cold) hands it back to the front of its queue uncharged (it never started), and a prefork child
reports it to its supervisor as held but not running. Permits go out in the order slots asked for them,
right after their claims, so no task starves another. The wait counts toward no time limit nor timeout:
those start with the handler.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..adapters.base import ClaimedJob
    from .loop import Worker
    from .prefetch_room import PrefetchRoom

#: ``app.worker_concurrency_scope``: "task" (the native default: ``concurrency`` slots per task, no budget
#: unless asked) or "process" (a Celery app: ``-c N`` bounds the whole worker process).
SCOPES = ("task", "process")


def check_max_running(value: Any, where: str = "max_running") -> int | None:
    """``value`` as a budget size (None: no budget); ConfigurationError naming ``where`` when it is not one."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{where}: expected a whole number of jobs >= 1, got {value!r}")
    return value


def concurrency_scope(app: Any) -> str:
    """How the app reads ``concurrency``: a front end (compat) sets ``worker_concurrency_scope`` on the native
    app it wraps; taskora never imports it to ask."""
    scope = getattr(app, "worker_concurrency_scope", "task")
    if scope not in SCOPES:
        raise ConfigurationError(f"worker_concurrency_scope: expected one of {', '.join(SCOPES)}, got {scope!r}")
    return str(scope)


def budget_size(app: Any, pool: str, concurrency: int, max_running: int | None) -> int | None:
    """The budget of one process that runs handlers, or None for none (each task bounded by its slots only).

    ``max_running`` wins for any app and pool. Else ``solo`` runs one job at a time; for a Celery app
    (scope "process") a prefork child runs one (Celery's one task per child) and a threads/asyncio worker
    ``concurrency`` (its ``-c``); a native app keeps its per-task slots.
    """
    if max_running is not None:
        return check_max_running(max_running)
    if pool == "solo":
        return 1
    if concurrency_scope(app) != "process":
        return None
    return 1 if pool == "prefork" else max(1, concurrency)


#: Celery's default ``worker_prefetch_multiplier``.
DEFAULT_PREFETCH_MULTIPLIER = 4


def reserve_bound(app: Any, pool: str, concurrency: int, multiplier: int | None = None,
                  disable: bool = False) -> int | None:  # fmt: skip
    """How many claimed jobs one process may hold reserved (waiting for the budget), or None for no bound.

    Celery's prefetch: ``-c`` x ``worker_prefetch_multiplier`` jobs for the whole worker, none beyond those
    running with ``worker_disable_prefetch``, no bound with a multiplier of 0. A prefork child holds its
    share (the multiplier: it runs one job at a time), a threads/solo worker all of it. The command line's
    ``--prefetch-multiplier``/``--disable-prefetch`` win over the app's settings (a Celery app's
    ``worker_prefetch_multiplier``/``worker_disable_prefetch``); a native app without them has no bound.
    """
    app_multiplier, app_disable = _app_prefetch(app)
    if disable or (multiplier is None and app_disable):
        return 0
    if multiplier is None:
        multiplier = app_multiplier
        if multiplier is None:
            return DEFAULT_PREFETCH_MULTIPLIER * _share(pool, concurrency) if concurrency_scope(app) == "process" \
                else None
    if isinstance(multiplier, bool) or not isinstance(multiplier, int) or multiplier < 0:
        raise ConfigurationError(f"worker_prefetch_multiplier: expected a whole number >= 0, got {multiplier!r}")
    return None if multiplier == 0 else multiplier * _share(pool, concurrency)


def apply_prefetch(worker: Worker, settings: Any, pool: str) -> None:
    """Bound the jobs a worker process holds and does not run (``settings``: pools.WorkerSettings, whose ``extra``
    carries the command line's ``prefetch_multiplier``/``disable_prefetch``): jobs waiting for its budget and
    jobs its slots claim ahead (prefetch_room.py), so ``--disable-prefetch`` also turns claiming ahead off."""
    extra = settings.extra
    worker.ahead.prefetch.bound = reserve_bound(settings.app, pool, settings.concurrency,
                                                extra.get("prefetch_multiplier"), bool(extra.get("disable_prefetch")))


def _share(pool: str, concurrency: int) -> int:
    return 1 if pool in ("prefork", "solo") else max(1, concurrency)


def _app_prefetch(app: Any) -> tuple[Any, bool]:
    """The app's own (multiplier, disable) of prefetch: a front end (compat) sets ``worker_prefetch`` on the
    native app it wraps, returning them; (None, False) when it does not."""
    read = getattr(app, "worker_prefetch", None)
    if read is None:
        return None, False
    multiplier, disable = read()
    return multiplier, bool(disable)


def default_concurrency(app: Any) -> int | None:
    """The app's own default of ``-c`` (a Celery app's ``worker_concurrency``), or None."""
    read = getattr(app, "worker_default_concurrency", None)
    value = read() if callable(read) else read
    return check_max_running(value, "worker_concurrency")


class Permit:
    """One running handler's share of the budget; released once (later calls do nothing)."""

    __slots__ = ("_budget",)

    def __init__(self, budget: RunBudget) -> None:
        self._budget: RunBudget | None = budget

    def release(self) -> None:
        budget, self._budget = self._budget, None
        if budget is not None:
            budget.release()

    def hand_over(self) -> Permit | None:
        """A permit that takes this one's place (this one's release then does nothing); None when released."""
        budget, self._budget = self._budget, None
        return None if budget is None else Permit(budget)


class RunBudget:
    """At most ``limit`` permits out at once, handed out first come, first served.

    Invariant: ``running`` <= ``limit`` (a shrink lets the surplus finish), and a waiter gets a permit only
    when every waiter that asked before it has got one or given up.

    Each waiter sleeps on a condition of its own, and a permit coming free wakes only the first in line: with
    one condition for all, every release woke every waiting slot to find it was not its turn. A prefork child
    serving six tasks paid about 17 thread switches per job for that (bench/README.md, "Profiles"). ``wake``
    still wakes them all, for what changes every waiter's ``give_up`` (a stop, a cancel, a lost lock), and
    ``wake_one_empty_handed`` the first waiter holding no job, for room in the prefetch bound (ReservedWait).
    """

    def __init__(self, limit: int) -> None:
        self.limit = check_max_running(limit, "RunBudget limit") or 1
        self.running = 0
        #: Taken directly by the per-job fast paths (``try_acquire``, ``release``): Condition's own ``with`` is
        #: Python code, and so is an RLock's ownership check.
        self._lock = threading.Lock()
        #: The waiters in line, first to go first: each one's condition (over ``_lock``).
        self._waiting: deque[threading.Condition] = deque()
        #: Those of ``_waiting`` that hold no job (a slot waiting to claim with its permit, ReservedWait).
        self._empty_handed: set[threading.Condition] = set()

    def try_acquire(self) -> Permit | None:
        """A permit at once if one is free and nobody waits for one (the uncontended fast path), else None."""
        with self._lock:
            if self._waiting or self.running >= self.limit:
                return None
            self.running += 1
            return Permit(self)

    def acquire(self, give_up: Callable[[], bool], *, empty_handed: bool = False) -> Permit | None:
        """Wait for a permit; None as soon as ``give_up()`` is true (checked whenever ``wake`` is called, and
        when this waiter's turn comes). ``empty_handed``: the waiter holds no job (``wake_one_empty_handed``)."""
        with self._lock:
            turn = threading.Condition(self._lock)
            self._waiting.append(turn)
            if empty_handed:
                self._empty_handed.add(turn)
            try:
                while not give_up():
                    if self._waiting[0] is turn and self.running < self.limit:
                        self.running += 1
                        return Permit(self)
                    turn.wait()
                return None
            finally:
                self._waiting.remove(turn)
                self._empty_handed.discard(turn)
                self._wake_first()  # the next in line may go now

    def release(self) -> None:
        with self._lock:
            self.running -= 1
            self._wake_first()

    def _wake_first(self) -> None:
        """Wake the first in line when a permit is free for it (call with ``_lock`` held)."""
        if self._waiting and self.running < self.limit:
            self._waiting[0].notify()

    def resize(self, limit: int) -> None:
        """A new size (``pool_grow``/``pool_shrink`` of a worker whose ``-c`` is its budget)."""
        with self._lock:
            self.limit = check_max_running(limit, "RunBudget limit") or 1
            self._wake_first()

    def wake(self) -> None:
        """Make every waiter check its ``give_up`` again (a stop began, a cancel came, a lock was lost)."""
        with self._lock:
            for turn in self._waiting:
                turn.notify()

    def wake_one_empty_handed(self) -> None:
        """Make the first waiter holding no job check its ``give_up`` again: room came free in the prefetch bound,
        and one such waiter may claim a job to wait reserved instead (ReservedWait.wait_in_line). One, not all: if
        it finds room it claims into it, and the room comes back (``PrefetchRoom.give``) for the next one; woken all
        at once, each would see the same room. The unlocked look is safe: a waiter joins, and checks its
        ``give_up``, under the lock before it sleeps, so one that joined after the look saw the room already."""
        if not self._empty_handed:
            return
        with self._lock:
            first = next((turn for turn in self._waiting if turn in self._empty_handed), None)
            if first is not None:
                first.notify()

    def free(self) -> int:
        """Permits a caller could take now: none while anybody waits in line (they go first)."""
        with self._lock:
            return 0 if self._waiting else max(0, self.limit - self.running)

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)


class ReservedWait:
    """A slot's claimed job waits for a permit as a reserved job of this worker.

    ``hand_back(job)`` returns a job that will not run here (ClaimsAhead.release_reserved: to the front of
    its queue uncharged, or finished as cancelled when its cancel came meanwhile). A job whose ``expires``
    passed while it waited is handed back too, and the claim that takes it next expires it (claim.lua), as
    Celery checks a reserved task's expiry when it is about to run it.

    Prefetch (``PrefetchRoom.bound``, Celery's ``-c`` x ``worker_prefetch_multiplier``): a job claimed while
    that many are held not running already (reserved, or on their way in claims sent ahead) is turned back at
    once, so an idle worker may take it; its slot then waits
    for a permit in line (first come, first served: no task starves another) holding nothing, and with the
    permit claims again without waiting (``claim_now``), so what it claims runs at once.
    """

    def __init__(self, budget: RunBudget, prefetch: PrefetchRoom, stopping: threading.Event,
                 notify: Callable[..., None], hand_back: Callable[[ClaimedJob], None],
                 now_ms: Callable[[], int], claim_now: Callable[[str], ClaimedJob | None]) -> None:  # fmt: skip
        self.budget = budget
        self.now_ms = now_ms
        self.prefetch = prefetch
        self.held = prefetch.held
        self.stopping = stopping
        self.notify = notify
        self.hand_back = hand_back
        self.claim_now = claim_now
        #: Lets another thread have the slot's connection while it waits in line (the worker's shared wait sets
        #: it, shared_wait.py: with many slots, those waiting for a permit would each hold one). None: it keeps it.
        self.park: Callable[[], None] | None = None

    def wait(self, job: ClaimedJob, permit: Permit | None = None) -> tuple[ClaimedJob, Permit] | None:
        """The job to run now (``job``, or one claimed instead of it after a turn back) and its permit, or None
        when nothing runs here now (handed back, cancelled, expired or lost). ``permit``: one its slot took for
        it already, with a claim ahead (prefetch_room.py)."""
        permit = permit or self.budget.try_acquire()
        if permit is not None:  # nothing to wait for: the job starts as it would without a budget
            return job, permit
        if not self._reserve(job):
            return self._turn_back(job)
        self.notify("job_reserved", job)
        if self.park is not None:
            self.park()
        permit = self.budget.acquire(lambda: self._gives_up(job.id))
        if permit is not None and not self._expired(job):
            with self.held.lock:
                ours = self.held.reserved.pop(job.id, None) is not None
            if ours:
                return job, permit
            permit.release()  # the heartbeat found its lock lost meanwhile: stall recovery returns it
            self.notify("job_released", job)
            return None
        if permit is not None:
            permit.release()  # it expired while it waited: handed back below, for its next claim to expire it
        self._let_go(job)
        return None

    def _reserve(self, job: ClaimedJob) -> bool:
        """Hold ``job`` as reserved unless the prefetch bound is reached (it counts every reserved job, those
        claimed ahead too, as ``inspect reserved`` shows them, and the jobs claims ahead may bring, not read yet)."""
        with self.held.lock:
            if self.prefetch.full():
                return False
            self.held.reserved[job.id] = job
            return True

    def _turn_back(self, job: ClaimedJob) -> tuple[ClaimedJob, Permit] | None:
        """Past the prefetch bound: ``job`` goes back to the front of its queue; once a permit is ours, claim
        one job of its task to run at once (None when there is none, or a stop came)."""
        with self.held.lock:
            self.held.reserved[job.id] = job  # hand_back takes what ``reserved`` holds (or records its cancel)
        self.hand_back(job)
        return self.claim_with_permit(job.task)

    def claim_with_permit(self, task: str) -> tuple[ClaimedJob, Permit] | None:
        """Wait in line for a permit holding nothing, then claim one job of ``task`` to run at once with it: None
        (the permit given back) when none is due, a stop came, or the bound has room again (``wait_in_line``).
        What a slot does after a job it claimed went straight back."""
        permit = self.wait_in_line()
        return None if permit is None else self.claim_with(permit, task)

    def wait_in_line(self) -> Permit | None:
        """Wait for a permit holding nothing, what a slot does instead of claiming a job that would go straight
        back (``PrefetchRoom.take_one``): the permit, or None once a stop came or the bound has room for a job to
        wait in. It came because the bound was full, maybe only of claims other slots had out for a moment, given
        back since (``PrefetchRoom.give`` wakes it): kept in line, it waited for the permit of a long job while its
        task's job waited in the queue, neither reserved here nor taken elsewhere (a prefork child starting up)."""
        if self.park is not None:
            self.park()
        return self.budget.acquire(self._leaves_line, empty_handed=True)

    def _leaves_line(self) -> bool:
        """Called under the budget's lock: ``full`` reads ``held`` without its lock (single reads; taking it here
        could deadlock with ``HeldJobs.wake_waiters``, which takes the budget's under it)."""
        return self.stopping.is_set() or not self.prefetch.full()

    def claim_with(self, permit: Permit, task: str) -> tuple[ClaimedJob, Permit] | None:
        """One job of ``task`` claimed to start with ``permit``; None, the permit given back, when none is due."""
        try:
            claimed = self.claim_now(task)
        except BaseException:
            permit.release()
            raise
        if claimed is None:
            permit.release()
            return None
        return claimed, permit

    def _let_go(self, job: ClaimedJob) -> None:
        if job.id in self.held.reserved:
            self.hand_back(job)
        else:  # lost meanwhile: nothing to hand back, stall recovery returns it
            self.notify("job_released", job)

    def _expired(self, job: ClaimedJob) -> bool:
        try:
            expire_at = int(job.fields.get("expireAt") or 0)
        except (TypeError, ValueError):
            return False  # unreadable: the claim script read it as none too
        return expire_at > 0 and self.now_ms() >= expire_at

    def _gives_up(self, job_id: str) -> bool:
        """Called under the budget's lock, so it reads ``held`` without its lock (single dict lookups)."""
        return (self.stopping.is_set() or job_id in self.held.cancel_before_start
                or job_id not in self.held.reserved)
