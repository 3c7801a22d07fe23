"""PrefetchRoom: how many claimed jobs one worker process may hold without running them, and who holds them.

Celery's prefetch contract: a worker holds at most ``-c`` x ``worker_prefetch_multiplier`` messages it is not
running, none beyond those running with ``worker_disable_prefetch`` (``budget.reserve_bound`` computes that
bound). Here a job is held and not running in two ways: it is *reserved* (``HeldJobs.reserved``: waiting for
the running budget, or claimed ahead and read), or it is on its way in the reply of a claim a slot sent ahead
and has not read yet (lookahead.py). Both count against the same bound: a slot sends a claim ahead only when
the jobs it may bring fit (``take``), and gives that room back once it has read the reply (``give``), by when
the job it brought is reserved or gone. A job that must wait for the budget is reserved only while the bound
has room (``full``), else it goes back to the front of its queue (budget.ReservedWait).

A claim ahead goes out as the slot starts its next job, counting that job as running. Under a running budget
(budget.py) that holds only if the job gets a permit at once, so ``take`` also takes the permit for it (the
slot hands it to that job): a slot whose next job would wait for the budget claims nothing ahead.

Without a bound (a native app by default) claims ahead are never refused and nothing is counted: the slot's
hot path then costs one attribute read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..adapters.base import ClaimResult
    from .budget import Permit, RunBudget
    from .held import HeldJobs
    from .lookahead import Lookahead


class PrefetchRoom:
    """The prefetch bound of one worker process and the jobs claims ahead may bring, not read yet.

    Invariant (with a bound): ``len(held.reserved) + ahead`` <= ``bound``, save for the job a slot is about to
    start (``take``'s ``starting``), which runs at once or is re-checked by ``full`` before it waits.
    """

    def __init__(self, held: HeldJobs, budget: RunBudget | None = None) -> None:
        self.held = held
        self.budget = budget
        #: At most this many jobs held and not running (``budget.reserve_bound``); None: no bound.
        self.bound: int | None = None
        #: Jobs the claims sent ahead and not read yet may bring (counted only with a bound).
        self.ahead = 0

    def full(self) -> bool:
        """Whether no other job may wait here, not running (call with ``held.lock`` held)."""
        bound = self.bound
        return bound is not None and len(self.held.reserved) + self.ahead >= bound

    def take_one(self) -> tuple[int, Permit | None] | None:
        """Room for the one job a slot holding nothing claims now (alone, or fused with its last job's outcome):
        (the room counted for it until the caller ``give``s it back, the permit it starts with), (0, None) without
        a bound or a budget (it may always wait, or always start), None when it could neither start at once nor
        wait within the bound. The slot then waits in line for a permit before it claims (budget.ReservedWait
        .claim_with_permit) instead of claiming a job that goes straight back to its queue: with several tasks in
        one process, most jobs went that way, each claimed twice."""
        claim, counted, permit = self.take_fitting(1)
        return None if claim == 0 else (counted, permit)

    def take(self, jobs: int, starting: int = 0, with_permit: bool = True) -> tuple[int, Permit | None] | None:
        """Room for a claim ahead of ``jobs`` jobs, sent as the caller starts its next job: (how many jobs it
        counted, the permit for the job starting), (0, None) without a bound, None when they do not fit or the
        job starting would wait for the budget. ``starting``: that job, if it is among the reserved ones.
        Without ``with_permit`` no permit is taken: no job starts now (a slot's second claim ahead), or the one
        starting holds its permit already (``ClaimsAhead.claim_ahead``)."""
        bound = self.bound
        if bound is None:
            return 0, None
        budget = self.budget if with_permit else None
        permit = None if budget is None else budget.try_acquire()
        if budget is not None and permit is None:
            return None
        with self.held.lock:
            fits = len(self.held.reserved) - starting + self.ahead + jobs <= bound
            if fits:
                self.ahead += jobs
        if not fits:
            if permit is not None:
                permit.release()
            return None
        return jobs, permit

    def take_room(self, jobs: int) -> tuple[int, int]:
        """For a feeder's claim for ``jobs`` idle slots (feeder.py): (how many may be claimed now, how many of them
        are counted until the caller ``give``s them back, one by one as slots take the jobs). All without a bound
        (none counted), else those that may start at once (permits free, nobody in line) or wait within the bound;
        0 when none may."""
        bound = self.bound
        if bound is None:
            return jobs, 0
        free = jobs if self.budget is None else self.budget.free()
        with self.held.lock:
            claim = max(0, min(jobs, free + bound - len(self.held.reserved) - self.ahead))
            self.ahead += claim
        return claim, claim

    def give(self, jobs: int) -> None:
        """A claim ahead was read (its job, if any, is reserved by now) or never sent: its room is free again, for a
        slot that found the bound full of such claims and waits in line for a permit (budget.ReservedWait)."""
        if jobs:
            with self.held.lock:
                self.ahead -= jobs
            if self.budget is not None:
                self.budget.wake_one_empty_handed()

    def room_ahead(self, jobs: int, starting: int = 0) -> int:
        """How many of ``jobs`` a claim sent ahead as the caller starts its next job may bring: all without a
        bound, else as many as the bound has room for (0: none). ``take`` checks again as it counts them."""
        bound = self.bound
        if bound is None:
            return jobs
        with self.held.lock:
            return max(0, min(jobs, bound - (len(self.held.reserved) - starting) - self.ahead))

    def batch_within(self, jobs: int) -> int:
        """A batch of ``jobs`` as the bound lets one slot hold it: its reserved jobs and the one it runs."""
        bound = self.bound
        return jobs if bound is None else max(1, min(jobs, bound + 1))

    def take_fitting(self, jobs: int) -> tuple[int, int, Permit | None]:
        """For a batch claimed by a slot holding nothing: (how many to claim, the room counted for them until the
        caller ``give``s it back, the permit for the first to start at once). All without a bound, else as many as
        the bound has room for, and one more when a permit is free for it: that one starts at once, the rest
        wait reserved. Without a free permit none starts, and none is claimed when the bound is full.

        The room is counted as the claim goes out, so another slot claiming meanwhile leaves room for what this one
        brings: counted only once read, two slots finishing together each claimed up to the whole bound, and the
        second's jobs were held past it."""
        bound = self.bound
        if bound is None:
            return jobs, 0, None
        permit = None if self.budget is None else self.budget.try_acquire()
        starting = int(self.budget is None or permit is not None)
        with self.held.lock:
            claim = max(starting, min(jobs, bound + starting - len(self.held.reserved) - self.ahead))
            self.ahead += claim - starting
        return claim, claim - starting, permit


def with_next_claim(room: PrefetchRoom, permit_holder: Lookahead | None, new_token: Callable[[], str],
                    send: Callable[[str | None], ClaimResult]) -> ClaimResult:  # fmt: skip
    """``send(next_token)`` records a slot's outcome, with its next claim fused in under ``next_token`` when that
    job may start or wait (``take_one``), else with none (None): the slot then claims once a permit is its own.
    The permit taken for the job goes to ``permit_holder`` (the slot's lookahead), for the job to start with."""
    if room.bound is None:
        return send(new_token())
    taken = room.take_one()
    if taken is None:
        return send(None)
    counted, permit = taken
    try:
        result = send(new_token())
    except BaseException:
        if permit is not None:
            permit.release()
        raise
    finally:
        room.give(counted)  # what the claim brought is in hand by now: ReservedWait reserves or starts it
    if permit_holder is not None:
        permit_holder.give_permit(permit)
    elif permit is not None:
        permit.release()
    return result
