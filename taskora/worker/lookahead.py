"""Claiming ahead, for a slot of its own (``solo``, each prefork child, a group of few thread slots).

A busy slot finishes a job with one script that completes it and claims the next, and then waits
for the reply before it can run anything: on loopback that round trip is as long as a short handler,
so the slot spends half its time waiting. When the slot already holds its next job it need not
wait: it sends "complete this one, claim one more" and runs the job it holds while Redis works,
reading the reply before its next transition. Busy, it never waits on the network, and it still
makes one round trip per job.

The price is one job claimed before the slot can start it. It is active in Redis and locked by this
worker while the job before it runs, so no other worker can take it meanwhile: the heartbeat extends
its lock, a cancel is noted and honoured before it starts, a stop hands it back to the front of the
queue, and a crash leaves it to the supervisor or to stall recovery like any job a worker holds.
So a slot claims ahead only where that wait is short: after a job that ran under
``AHEAD_AFTER_JOBS_UNDER_S``, and, to begin with, only when its claim reported more jobs waiting.

A no-op job is shorter than that round trip on a loaded machine, though: the reply of the claim sent as
the job before began is often not there yet when the job ends. So a slot without batches
(``solo``, one-slot groups) keeps up to ``IN_FLIGHT_AT_MOST`` requests in flight: once it holds no job
and has one request in flight, it claims one more ahead, and from then on it reads, as a job ends, the reply
sent two jobs earlier. It still sends each completion as its job ends; what it has claimed and not
started is at most two jobs, each reserved or in an unread claim the watch keeps an eye on.

A short job can be followed by a slow one, though. While a slot runs a job, its claim ahead is in
flight, the reply unread on the slot's own connection, so the worker's claim watch (``ClaimWatch``)
keeps an eye on it from another thread: once the job before has run ``RELEASE_AHEAD_AFTER_S``, the
watch finds the job that claim took by its lock token and hands it back to the front of the queue,
where an idle slot or worker takes it (every claim of the slot still unread). The slot, reading the reply
later, knows not to run it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.base import ClaimedJob, ClaimResult, Completion, InFlightBatch, InFlightClaim
    from .budget import Permit
    from .runtime import JobRuntime

#: A slot claims ahead only right after a job that ran shorter than this (seconds): the job claimed
#: ahead waits about as long as the one before it runs.
AHEAD_AFTER_JOBS_UNDER_S = 0.002
#: A job claimed ahead that has waited this long (seconds) behind the job its slot runs goes back to the
#: front of the queue: that job turned out slow, and another slot or worker may be idle.
RELEASE_AHEAD_AFTER_S = 0.05
#: Requests a slot without batches keeps in flight at most: the reply it reads as a job ends was sent two
#: jobs earlier, so a no-op job does not wait for it (bench/README.md, "Profiles").
IN_FLIGHT_AT_MOST = 2
#: Longest the watch waits before it looks again for the job of a claim that had taken none yet.
LOOK_AGAIN_AT_MOST_S = 5.0


@dataclass(eq=False)
class SentClaim:
    """A request whose reply the slot has not read yet: a claim, possibly fused with a completion."""

    request: InFlightClaim | InFlightBatch
    #: The job the same request completes, with what to resend if the reply never comes; None for a
    #: plain claim.
    runtime: JobRuntime | None = None
    payload: str | bytes = ""
    keep: bool = True
    sent_at: float = field(default_factory=time.monotonic)
    #: Set once the claim watch handed back the job this claim took: the slot must not run it.
    released: bool = False
    #: How many times the watch found no job held under this claim's token (it had not run yet, or
    #: found the queue empty).
    looks: int = 0
    #: A batch (``ack_many_later``, batches.py): the completions it carries, sent again should its reply be lost.
    completions: list[Completion] = field(default_factory=list)
    batch: bool = False
    #: The prefetch room this claim took (prefetch_room.py), given back once its reply is read.
    room: int = 0
    #: Sends the fused outcome again should its reply be lost (a retried failure's ``fail``); None: ``ack``
    #: of ``payload``.
    resend: Callable[[], ClaimResult] | None = None


class Lookahead:
    """One slot's claim-ahead state: the jobs it holds but has not started, and its requests in flight.

    ``lock`` is held by the slot while it takes a request to read its reply, and by the claim watch
    while it hands back the jobs the slot's requests took: one or the other has such a job, never both.
    ``queue`` holds the jobs after ``ahead``: a second claim's, or in a prefork child (batches.py) the rest of a
    batch, with ``done``, jobs it completed whose completion rides with its next request; both change only under
    ``lock``."""

    __slots__ = ("ahead", "busy_since", "done", "in_flight", "lock", "more", "permit", "queue")

    def __init__(self) -> None:
        self.ahead: ClaimedJob | None = None
        #: Requests sent and not read yet, oldest first (replies come in that order).
        self.in_flight: deque[SentClaim] = deque()
        #: Whether the last reply read said more jobs were waiting: a slot then claims a second one ahead.
        self.more = False
        self.lock = threading.Lock()
        self.queue: deque[ClaimedJob] = deque()
        self.done: list[Completion] = []
        #: When the job the slot runs now started, while it holds a batch (the batch watch reads it).
        self.busy_since: float | None = None
        #: The running budget's permit for the job the slot starts next, taken with a claim ahead
        #: (prefetch_room.py); that job's wait for the budget uses it (budget.ReservedWait).
        self.permit: Permit | None = None

    @property
    def sent(self) -> SentClaim | None:
        """The oldest request in flight, whose reply comes next; None without one."""
        in_flight = self.in_flight
        return in_flight[0] if in_flight else None

    def take_permit(self) -> Permit | None:
        permit, self.permit = self.permit, None
        return permit

    def give_permit(self, permit: Permit | None) -> None:
        """Hold ``permit`` for the job the slot starts next; one held already, left unused, is released: never two."""
        earlier, self.permit = self.permit, permit
        if earlier is not None:
            earlier.release()

    def holds(self) -> bool:
        """Whether the slot holds a job it has not started (claimed ahead, or the rest of a batch)."""
        return self.ahead is not None or bool(self.queue)

    def held_count(self) -> int:
        return (self.ahead is not None) + len(self.queue)

    @staticmethod
    def worth_it(duration_s: float) -> bool:
        """Whether to claim ahead after a job that ran ``duration_s``."""
        return duration_s < AHEAD_AFTER_JOBS_UNDER_S


class ClaimWatch:
    """The slots' claims in flight, each with when to look at it; ``due()`` hands over the overdue ones.

    A busy slot sends a claim for every job it runs, so sending must cost next to nothing: it records
    the claim, and wakes the watching thread only when that thread sleeps without a deadline. The watch
    keeps the slot's latest claim: when it comes due still unread, so are the slot's claims sent before
    it, and all of them are handed back. A claim the slot read meanwhile is dropped when its time comes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # taken directly on the hot path: Condition's own __enter__ is Python code
        self._changed = threading.Condition(self._lock)
        self._watched: dict[Lookahead, tuple[SentClaim, float]] = {}
        self._sleeping_for_good = False
        self._closed = False

    def sent(self, lookahead: Lookahead, claim: SentClaim) -> None:
        """Watch ``claim``, which ``lookahead``'s slot just sent, or look at it again later."""
        wait = min(RELEASE_AHEAD_AFTER_S * 2**claim.looks, LOOK_AGAIN_AT_MOST_S)
        with self._lock:
            self._watched[lookahead] = (claim, time.monotonic() + wait)
            if self._sleeping_for_good:
                self._sleeping_for_good = False
                self._changed.notify()

    def due(self) -> list[tuple[Lookahead, SentClaim]]:
        """Wait until some claims are due, and hand them over (the watch forgets them); [] once closed."""
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                due = [(slot, claim) for slot, (claim, at) in self._watched.items() if at <= now]
                for slot, _claim in due:
                    del self._watched[slot]
                unread = [(slot, claim) for slot, claim in due if claim in slot.in_flight]
                if unread:
                    return unread
                next_at = min((at for _claim, at in self._watched.values()), default=None)
                self._sleeping_for_good = next_at is None
                self._changed.wait(None if next_at is None else next_at - now)
            return []

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
