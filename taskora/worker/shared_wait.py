"""SharedWait: a worker process's idle slots wait for work on one connection, not one each.

An idle slot of its own blocks on its task's marker on its own connection, its claim sent in the same write
(idle.py). A process holds a slot per task and queue (one per prefork child, ``-c`` per task in a threads pool),
so a 50-task Celery project held 112 connections blocked at ``-P prefork -c 2`` and 224 at ``-P threads -c 4``
(docs/operations/workers.md, "Connections and threads"). From ``SHARED_FROM_SLOTS`` slots of their own in a
process, an idle slot hands its wait to this watch and parks its connection (``Adapter.park_connection``): one
thread blocks on the markers and own wake keys of the tasks whose slots wait, in one ``BZPOPMIN``, and wakes the
slot of the popped key's task that waited longest. That slot claims, on a connection it takes back. A process
then holds about one connection per slot busy at once, and the watch's.

A task stays watched after its last waiting slot was woken, as that slot comes back once its job is done: a
slot whose task is not watched makes the block in flight end (``wake_shared_wait``, a round trip), and one per
job slowed every pickup. A task leaves the watch when a wake popped for it finds no slot of it waiting.

The price is paid on an idle pickup: a thread switch and the claim's own round trip, which the fused wait and
claim saves. That is why a process with fewer slots keeps them waiting on their own.

Nothing here can lose a job: the marker only says that work may be there, and claims find it. A marker's wake
popped for a task with no slot waiting any more goes back to the marker, for another worker's idle slot. A wake
missed costs latency only: each slot's wait ends after its own timeout (``idle.MAX_BLOCK_S``, or when the next
delayed job falls due), and it claims then. A cluster never shares a wait (``Adapter.shares_waits``): its tasks'
keys live in hash slots of their own, which one command cannot span.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from typing import TYPE_CHECKING

from ..adapters.base import CONNECTION_ERRORS
from ..errors import ConfigurationError
from .idle import MAX_BLOCK_S
from .reconnect import OUTAGE, once

if TYPE_CHECKING:
    from ..adapters.base import Adapter

#: From this many slots of their own (a feeder's group not counted) in one process, its idle slots share one wait.
SHARED_FROM_SLOTS = 32
#: Moves that threshold for the processes it is set in (0: never share): latency against connections.
FROM_VARIABLE = "TASKORA_SHARED_WAIT_FROM"
#: How long the watch pauses after Redis failed it (seconds); its slots meanwhile claim on their own timeouts.
OUTAGE_PAUSE_S = 0.5


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


class SharedWait:
    """The idle slots of one worker process by task, first come first, and the watch that waits on their behalf.

    Invariant: a slot's event is in ``_waiting`` only while that slot is in ``wait``, and whoever takes it out (the
    watch delivering a wake, or the slot leaving) does so under ``_lock``: one wake goes to one slot.
    """

    def __init__(self, adapter: Adapter, worker: str, cold: threading.Event, address: str) -> None:
        self.adapter = adapter
        self.worker = worker
        self._cold = cold
        self._address = address
        self._lock = threading.Lock()
        self._some_waiting = threading.Condition(self._lock)
        self._waiting: dict[str, deque[threading.Event]] = {}
        #: The tasks whose keys the watch blocks on: a task joins as a slot of it waits, and leaves when a wake
        #: popped for it finds none waiting.
        self._watch: set[str] = set()
        #: Whether the watch's block is in flight (it covers ``_watch`` as it was then).
        self._blocked = False
        #: How far the next block rotates its keys: ``BZPOPMIN`` pops the first key that has a member.
        self._turn = 0
        self._closed = False

    # -- the slots' side ----------------------------------------------------------------------------
    def wait(self, task: str, timeout_s: float) -> None:
        """Wait, holding no connection, until ``task`` may have work, ``timeout_s`` passed, or ``wake`` ends it."""
        woken = threading.Event()
        with self._lock:
            self._waiting.setdefault(task, deque()).append(woken)
            look_again = task not in self._watch and self._blocked
            self._watch.add(task)
            self._some_waiting.notify()
        self.adapter.park_connection()
        if look_again:  # the block in flight leaves this task out: it makes a new one
            once(self._address, self.adapter.wake_shared_wait, self.worker)
        try:
            woken.wait(timeout_s)
        finally:
            self._leave(task, woken)

    def _leave(self, task: str, woken: threading.Event) -> None:
        with self._lock:
            waiting = self._waiting.get(task)
            if waiting is not None and woken in waiting:
                waiting.remove(woken)
                if not waiting:
                    del self._waiting[task]

    def wake(self, task: str | None = None) -> None:
        """End the waits of ``task``'s slots (of every slot: None) at once: a stop, a shrink, tasks dropped."""
        with self._lock:
            events = [woken for name, waiting in self._waiting.items() if task in (None, name) for woken in waiting]
        for woken in events:
            woken.set()

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
        """A wake popped for ``task`` (``own``: this worker's own wake key's): to the slot that waited longest."""
        with self._lock:
            waiting = self._waiting.get(task)
            woken = waiting.popleft() if waiting else None
            if waiting is not None and not waiting:
                del self._waiting[task]
            if woken is None:
                self._watch.discard(task)
        if woken is not None:
            woken.set()
        elif not own:  # no slot here waits for it any more: back to the marker, for another worker's idle slot
            once(self._address, self.adapter.wake_workers, task, 1)
