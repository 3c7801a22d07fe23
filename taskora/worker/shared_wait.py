"""SharedWait: a worker process's idle slots wait for work on one connection, not one each.

An idle slot of its own blocks on its task's marker on its own connection, its claim sent in the same write
(idle.py). A process holds a slot per task and queue (one per prefork child, ``-c`` per task in a threads pool),
so a 50-task Celery project held 112 connections blocked at ``-P prefork -c 2`` and 224 at ``-P threads -c 4``
(docs/operations/workers.md, "Connections and threads"). A feeder's group (feeder.py) waits in two slots keeping
the watch, so 50 tasks at ``-P threads -c 8`` held 112 blocked too. From ``SHARED_FROM_SLOTS`` such waits in a
process (``idle_waits``), an idle slot hands its wait to this watch and parks its connection
(``Adapter.park_connection``), and so does a slot or a feeder waiting on its feeder: one thread blocks on the
markers and own wake keys of the tasks whose slots wait, in one ``BZPOPMIN``. As it pops a task's wake it claims
for the slot of that task that waited longest, on its own connection, and wakes that slot with the job; the slot
runs it on a connection it takes back. A process then holds about one connection per thread busy at once, and
the watch's.

A task stays watched after its last waiting slot was woken, as that slot comes back once its job is done: a
slot whose task is not watched makes the block in flight end (``wake_shared_wait``, a round trip), and one per
job slowed every pickup. A task leaves the watch when a wake popped for it finds no slot of it waiting.

The price is paid on an idle pickup: a thread switch and the claim's own round trip, which the fused wait and
claim saves (the watch sends the claim before the slot is woken, not after, which takes 0.15 ms off that price
on a threads pool). That is why a process with fewer slots keeps them waiting on their own. A claim the watch
made for a slot always reaches it, also when a stop or the slot's own timeout comes meanwhile; the slot hands
the job back on a stop, as after a fused wait.

Nothing here can lose a job: the marker only says that work may be there, and claims find it. A marker's wake
popped for a task with no slot waiting any more goes back to the marker, for another worker's idle slot. A wake
missed costs latency only: each slot's wait ends after its own timeout (``idle.MAX_BLOCK_S``, or when the next
delayed job falls due), and it claims then. A cluster never shares a wait (``Adapter.shares_waits``): its tasks'
keys live in hash slots of their own, which one command cannot span.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..adapters.base import CONNECTION_ERRORS
from ..errors import ConfigurationError
from .feeder import FEEDER_MIN_SLOTS, WATCHERS
from .idle import MAX_BLOCK_S
from .reconnect import OUTAGE, once

if TYPE_CHECKING:
    from ..adapters.base import Adapter, ClaimResult

log = logging.getLogger("taskora.worker")

#: From this many idle waits in one process (``idle_waits``), its idle slots share one wait.
SHARED_FROM_SLOTS = 32
#: Moves that threshold for the processes it is set in (0: never share): latency against connections.
FROM_VARIABLE = "TASKORA_SHARED_WAIT_FROM"
#: How long the watch pauses after Redis failed it (seconds); its slots meanwhile claim on their own timeouts.
OUTAGE_PAUSE_S = 0.5


def idle_waits(slots_per_task: Iterable[int]) -> int:
    """How many waits a process's idle slots would block in, one connection each: every slot of its own, and the
    watchers of a feeder's group (feeder.py: its other idle slots wait on the feeder, not on Redis)."""
    return sum(slots if slots < FEEDER_MIN_SLOTS else WATCHERS for slots in slots_per_task)


def shared_from_slots() -> int | None:
    """From how many slots of their own a process shares their wait (None: never): ``$TASKORA_SHARED_WAIT_FROM``,
    else ``SHARED_FROM_SLOTS``; ConfigurationError naming the variable when it is not a whole number."""
    text = os.environ.get(FROM_VARIABLE, "").strip()
    if not text:
        return SHARED_FROM_SLOTS
    if not text.isdigit():
        raise ConfigurationError(f"{FROM_VARIABLE} must be a whole number of slots (0: never share a wait), "
                                 f"got {text!r}")
    return int(text) or None


class Waiter:
    """One idle slot in the shared wait: woken once, by the watch (with what it claimed for the slot, if anything)
    or by ``wake`` (a stop, a shrink), or gone on its own timeout."""

    __slots__ = ("claim", "claimed", "taken", "woken")

    def __init__(self, claim: Callable[[], ClaimResult] | None) -> None:
        self.claim = claim
        self.woken = threading.Event()
        #: Set by the watch, under the wait's lock, as it takes this waiter: it claims for it and always answers.
        self.taken = False
        self.claimed: ClaimResult | None = None


class SharedWait:
    """The idle slots of one worker process by task, first come first, and the watch that waits on their behalf.

    Invariant: a slot's waiter is in ``_waiting`` only while that slot is in ``wait``, and whoever takes it out (the
    watch delivering a wake, ``wake``, or the slot leaving) does so under ``_lock``: one wake goes to one slot, and
    a job the watch claimed for a slot always reaches it (the slot waits for the answer once it was taken).
    """

    def __init__(self, adapter: Adapter, worker: str, cold: threading.Event, address: str) -> None:
        self.adapter = adapter
        self.worker = worker
        self._cold = cold
        self._address = address
        self._lock = threading.Lock()
        self._some_waiting = threading.Condition(self._lock)
        self._waiting: dict[str, deque[Waiter]] = {}
        #: The tasks whose keys the watch blocks on: a task joins as a slot of it waits, and leaves when a wake
        #: popped for it finds none waiting.
        self._watch: set[str] = set()
        #: Whether the watch's block is in flight (it covers ``_watch`` as it was then).
        self._blocked = False
        #: How far the next block rotates its keys: ``BZPOPMIN`` pops the first key that has a member.
        self._turn = 0
        self._closed = False

    # -- the slots' side ----------------------------------------------------------------------------
    def wait(self, task: str, timeout_s: float, claim: Callable[[], ClaimResult] | None = None) -> ClaimResult | None:
        """Wait, holding no connection, until ``task`` may have work, ``timeout_s`` passed, or ``wake`` ends it.
        Returns what ``claim`` brought when the watch ran it for this slot as ``task``'s marker woke, else None:
        the slot claims itself. Run by the watch the moment it pops the wake, the claim goes out before this
        thread is woken, not after (about 0.15 ms sooner on a threads pool)."""
        waiter = Waiter(claim)
        with self._lock:
            self._waiting.setdefault(task, deque()).append(waiter)
            look_again = task not in self._watch and self._blocked
            self._watch.add(task)
            self._some_waiting.notify()
        self.adapter.park_connection()
        if look_again:  # the block in flight leaves this task out: it makes a new one
            once(self._address, self.adapter.wake_shared_wait, self.worker)
        try:
            waiter.woken.wait(timeout_s)
        finally:
            taken = self._leave(task, waiter)
        if taken:
            waiter.woken.wait()  # the watch claims for this slot now, and answers whatever happens
        return waiter.claimed

    def _leave(self, task: str, waiter: Waiter) -> bool:
        """Take ``waiter`` out of the line; True when the watch took it first (its answer is on the way)."""
        with self._lock:
            if waiter.taken:
                return True
            waiting = self._waiting.get(task)
            if waiting is not None and waiter in waiting:
                waiting.remove(waiter)
                if not waiting:
                    del self._waiting[task]
            return False

    def wake(self, task: str | None = None) -> None:
        """End the waits of ``task``'s slots (of every slot: None) at once, with no claim: a stop, a shrink, tasks
        dropped. Under the lock, so that the watch cannot take a waiter this wakes."""
        with self._lock:
            for name, waiting in self._waiting.items():
                if task in (None, name):
                    for waiter in waiting:
                        waiter.woken.set()

    def close(self) -> None:
        """End every wait and the watch (the worker is torn down)."""
        with self._lock:
            self._closed = True
            self._some_waiting.notify()
            blocked = self._blocked
        self.wake()
        if blocked:
            once(self._address, self.adapter.wake_shared_wait, self.worker)

    # -- the watch's thread ---------------------------------------------------------------------------
    def run(self) -> None:
        """Block on the watched tasks' keys; wake one slot of the task whose key was popped."""
        while (tasks := self._tasks_to_watch()) is not None:
            try:
                popped = self.adapter.wait_for_any(tasks, MAX_BLOCK_S, self.worker)
            except CONNECTION_ERRORS as exc:
                OUTAGE.lost(self._address, exc, "the idle slots' shared wait")
                popped = None
                self.wake()  # each slot claims: it meets the outage itself, and backs off
                self._cold.wait(OUTAGE_PAUSE_S)
            finally:
                with self._lock:
                    self._blocked = False
            if popped is not None:
                self._deliver(*popped)

    def _tasks_to_watch(self) -> list[str] | None:
        """The watched tasks once there is one, each block starting one further along; None once closed."""
        with self._lock:
            while not self._watch and not self._closed:
                self._some_waiting.wait()
            if self._closed:
                return None
            self._blocked = True
            tasks = list(self._watch)
            self._turn = turn = (self._turn + 1) % len(tasks)
            return tasks[turn:] + tasks[:turn]

    def _deliver(self, task: str, own: bool) -> None:
        """A wake popped for ``task`` (``own``: this worker's own wake key's, from a stop or a shrink) to the slot that
        waited longest: for a marker's, with the slot's claim run here first."""
        with self._lock:
            waiter = self._next_waiter(task)
            if waiter is None:
                self._watch.discard(task)
            else:
                waiter.taken = True
        if waiter is None:
            if not own:  # no slot here waits for it any more: back to the marker, for another worker's idle slot
                once(self._address, self.adapter.wake_workers, task, 1)
            return
        try:
            if not own and waiter.claim is not None:
                waiter.claimed = waiter.claim()
        except CONNECTION_ERRORS as exc:  # the slot claims itself: it meets the outage, and backs off
            OUTAGE.lost(self._address, exc, f"claiming for an idle slot of {task}")
        except Exception:  # the slot's own claim meets it again and reports it where a slot's errors go
            log.debug("claiming for an idle slot of %s failed; the slot claims itself", task, exc_info=True)
        finally:
            waiter.woken.set()

    def _next_waiter(self, task: str) -> Waiter | None:
        """The slot of ``task`` that waited longest and was not woken meanwhile (lock held), out of the line."""
        waiting = self._waiting.get(task)
        while waiting:
            waiter = waiting.popleft()
            if not waiter.woken.is_set():  # one ``wake`` woke is on its way out
                if not waiting:
                    del self._waiting[task]
                return waiter
        if waiting is not None:
            del self._waiting[task]
        return None
