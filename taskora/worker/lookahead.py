"""Claiming one job ahead, for a slot that runs its jobs alone (``solo``, each prefork child).

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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.redis import ClaimedJob, ClaimInFlight
    from .runtime import JobRuntime

#: A slot claims ahead only right after a job that ran shorter than this (seconds): the job claimed
#: ahead waits about as long as the one before it runs.
AHEAD_AFTER_JOBS_UNDER_S = 0.002


@dataclass
class SentClaim:
    """A request whose reply the slot has not read yet: a claim, possibly fused with a completion."""

    request: ClaimInFlight
    #: The job the same request completes, with what to resend if the reply never comes; None for a
    #: plain claim.
    runtime: JobRuntime | None = None
    payload: str | bytes = ""
    keep: bool = True


class Lookahead:
    """One slot's claim-ahead state: the job it holds but has not started, and the request in flight."""

    __slots__ = ("ahead", "sent")

    def __init__(self) -> None:
        self.ahead: ClaimedJob | None = None
        self.sent: SentClaim | None = None

    @staticmethod
    def worth_it(duration_s: float) -> bool:
        """Whether to claim ahead after a job that ran ``duration_s``."""
        return duration_s < AHEAD_AFTER_JOBS_UNDER_S
