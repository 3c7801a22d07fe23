"""Waiting for work: blocking on a task's marker, the fused wait-then-claim, and waking blocked claimers.

A claimer blocks on the task's marker and, when it names its worker (``worker``), on that worker's own wake key
too (``Keys.own_wake``). A wake on the marker reaches whichever claimers of any worker waited longest, the right
thing for work that any worker may take; a stop or a shrink must reach its own worker's slots, or it waits out
their block (5 s) while another worker's idle slots took its wakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import ResponseError

from ..clock import SystemClock
from ..errors import from_engine_reply
from .base import ClaimResult
from .core import RedisCore
from .replies import _claim_reply, _text
from .scripts import ThreadConnections, must_resend

#: How long an own wake key outlives its last wake: wakes for slots that were busy then are not left behind.
OWN_WAKE_TTL_MS = 60_000


class WaitingOps(RedisCore):
    """The marker sorted set (``taskora:...:marker``) says when a claim may succeed."""

    def wait_then_claim(self, task: str, timeout_s: float, token: str, lock_ttl_ms: int,
                        worker: str | None = None) -> ClaimResult:  # fmt: skip
        """Block on the marker (``wait_for_work``), then claim. On a real Redis both go out in one write
        on this thread's connection: Redis runs the claim the moment the wait ends, and the caller wakes
        once, to the claim's reply. A claim after a wait that timed out is what the caller sends next
        anyway. Its ``now`` is '' (Redis' clock), since nobody knows when it will run; with another clock
        than the system's (a virtual one) or no sockets (the in-memory engine) the two go one by one."""
        keys, claim = self.keys.queue(task), self.scripts.claim
        args = [self.keys.task_prefix(task), "", token, lock_ttl_ms]
        if timeout_s <= 0 or not (isinstance(self.runner, ThreadConnections) and isinstance(self.clock, SystemClock)):
            if timeout_s > 0:
                self.wait_for_work(task, timeout_s, worker)
            args[1] = self.now_ms()
            return _claim_reply(task, token, claim(self.runner, keys, args))
        marker_wait = ("BZPOPMIN", *self._wait_keys(task, worker), self._block_s(timeout_s))
        waited, reply = self.runner.call_many(marker_wait, claim.command(keys, args))
        if isinstance(waited, Exception) and not _took_a_job(reply):
            raise waited  # a job the claim took is returned whatever the wait met: raised, nobody would run it
        if must_resend(reply):  # the claim did not run (Redis lost the engine, or is at maxmemory)
            reply = claim(self.runner, keys, args)
        elif isinstance(reply, ResponseError):
            raise from_engine_reply(str(reply)) from reply
        return _claim_reply(task, token, reply)

    def wait_for_work(self, task: str, timeout_s: float, worker: str | None = None) -> bool:
        """Block until a marker (or ``worker``'s own wake) says a claim may succeed, or the timeout passes."""
        return self._pop_first(self._wait_keys(task, worker), timeout_s) is not None

    def _pop_first(self, keys: list[str], timeout_s: float) -> Any:
        """``BZPOPMIN`` on ``keys``: (key, member, score) of the first woken, or None once ``timeout_s`` passed."""
        if isinstance(self.runner, ThreadConnections):  # the calling thread's own connection: no pool on the way
            return self.runner.call("BZPOPMIN", *keys, self._block_s(timeout_s))
        return self.blocking.bzpopmin(keys, timeout=max(timeout_s, 0.001))

    def wake_workers(self, task: str, count: int, worker: str | None = None) -> None:
        """Wake up to ``count`` blocked claimers of ``task``: of any worker, or only ``worker``'s own (a stop, a
        shrink), whose wakes expire unused after ``OWN_WAKE_TTL_MS``."""
        members: dict[Any, float] = {f"wake:{i}": 0 for i in range(count)}
        if not members:
            return
        if worker is None:
            self.client.zadd(self.keys.marker(task), members)
            return
        key = self.keys.own_wake(task, worker)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, members)
        pipe.pexpire(key, OWN_WAKE_TTL_MS)
        pipe.execute()

    def forget_wakes(self, tasks: list[str], worker: str) -> None:
        """Drop ``worker``'s own wake keys once its slots are gone: a stopped worker leaves no key behind."""
        for task in tasks:  # one key per task, each in its task's slot (a cluster spreads them)
            self.client.delete(self.keys.own_wake(task, worker))
        if self.shares_waits():
            self.client.delete(self.keys.shared_wait(worker))

    # -- one wait for many idle slots (worker/shared_wait.py) ---------------------------------------------
    def shares_waits(self) -> bool:
        """Whether one blocking command may wait on several tasks' keys: not on a cluster, whose tasks' keys
        live in slots of their own (a command's keys must share one)."""
        return not self.keys.cluster

    def wait_for_any(self, tasks: Sequence[str], timeout_s: float, worker: str) -> tuple[str, bool] | None:
        """Block until the marker or ``worker``'s own wake of one of ``tasks`` is woken: (that task, whether it was
        the own wake), popped as one slot's wait would pop it; None when ``timeout_s`` passed or the worker's
        shared wait was told to look again (``wake_shared_wait``). On the calling thread's own connection, as a
        slot's wait: the shared wait blocks once per pickup, on a hundred keys and more."""
        woken_by: dict[str, tuple[str, bool] | None] = {self.keys.shared_wait(worker): None}
        for task in tasks:
            marker, own = self._wait_keys(task, worker)
            woken_by[marker], woken_by[own] = (task, False), (task, True)
        popped = self._pop_first(list(woken_by), timeout_s)
        return None if popped is None else woken_by.get(_text(popped[0]))

    def wake_shared_wait(self, worker: str) -> None:
        """Make ``worker``'s shared wait look again at which tasks have idle slots (it expires unused, as own wakes)."""
        key = self.keys.shared_wait(worker)
        pipe = self.client.pipeline(transaction=False)
        pipe.zadd(key, {"look": 0})
        pipe.pexpire(key, OWN_WAKE_TTL_MS)
        pipe.execute()

    def park_connection(self) -> None:
        """Let another thread have the calling thread's connection until it calls again (``ThreadConnections.park``)."""
        park = getattr(self.runner, "park", None)
        if park is not None:
            park()

    def _wait_keys(self, task: str, worker: str | None) -> list[str]:
        marker = self.keys.marker(task)
        return [marker] if worker is None else [marker, self.keys.own_wake(task, worker)]


def _took_a_job(reply: Any) -> bool:
    """Whether a claim script's reply names a job it claimed (``{id, more, fields...}``, not ``{'', due}``)."""
    return isinstance(reply, list) and len(reply) > 2 and reply[0] not in (b"", "")

