"""Quarantine: a job that was running when its process died runs alone in its process the next time.

When a process dies running several jobs, which of them killed it is unknown, so each is handed back as
lost (``lostCount``), not charged an attempt. Left at that, a poison job keeps killing the jobs beside it,
and a healthy job that keeps meeting poison ones ends past ``stall.max_lost``. So a *suspect* job waits
until nothing else runs in its process and keeps others from starting while it runs: if it kills the
process again it died alone, and that death is charged to it as a failed attempt (the prefork supervisor
sees a single running job). A suspect is a job with a lost run (``lostCount`` > 0), or one whose last
attempt ended because its process died (``WorkerLostError``: it died alone then, so it is the likeliest
poison job of all; without this its next run, beside others, would kill them and be handed back as lost,
uncharged). A healthy job is counted lost at most once per poison job it meets, and only when it meets
that job on its first run.

A suspect never waits longer than ``WAIT_ALONE_S`` for the jobs beside it to end (a handler may run for
hours): past that it runs beside them, as before quarantine. A job that waits (a suspect, or an ordinary job
behind one) is *reserved* meanwhile (held.py): the heartbeat extends its lock however long its lease, a
prefork child that dies reports it as held but not started (handed back uncharged), a cancel keeps it from
starting, and a lock lost meanwhile (the heartbeat could not reach Redis in time) means it does not run here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..adapters.base import ClaimedJob
    from .held import HeldJobs

#: Longest a suspect job waits for the jobs running beside it to end before it runs anyway.
WAIT_ALONE_S = 10.0


#: The error type of an attempt that ended with its process (a ``sys.exit`` in a thread: its handler).
PROCESS_DEATH = "WorkerLostError"


def is_suspect(fields: dict[str, Any]) -> bool:
    """Whether a job's process died while running it: handed back as lost, or its last attempt charged."""
    try:
        lost = int(fields.get("lostCount") or 0) > 0
    except (TypeError, ValueError):
        lost = False
    return lost or _last_attempt_killed_its_process(fields.get("errorDetail"))


def _last_attempt_killed_its_process(detail: Any) -> bool:
    """``errorDetail`` (failures.error_detail, kept from the last failed attempt) names a process death."""
    if not detail or PROCESS_DEATH not in str(detail):  # the common case, without parsing a traceback
        return False
    try:
        return bool(json.loads(detail).get("type") == PROCESS_DEATH)
    except (TypeError, ValueError, AttributeError):
        return False


class Quarantine:
    """Admits jobs to run in this process: any number of ordinary ones together, a suspect one alone.

    ``notify(event, job)`` tells the worker's job hooks that a waiting job is held but not started
    (``job_reserved``) or no longer held (``job_released``), as budget.ReservedWait does.
    """

    def __init__(self, held: HeldJobs, notify: Callable[..., None]) -> None:
        self.held = held
        self.notify = notify
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._running = 0
        self._alone = False
        self._suspects_waiting = 0
        #: Threads inside a wait on ``_changed``: a job that leaves wakes them, and with none there skips it.
        self._sleepers = 0

    def admit(self, job: ClaimedJob) -> _Admission:
        """Hold the job's place for as long as it runs (and is reported running):
        ``with quarantine.admit(job) as still_ours:``. ``still_ours`` is False when the job is no longer this
        worker's once its wait ended (its lock was lost meanwhile): it must not run. A plain class, not a
        generator: it wraps every job."""
        return _Admission(self, job)

    def _reserve(self, job: ClaimedJob) -> None:
        """Before the first wait: the heartbeat keeps its lock from now on (heartbeat.py)."""
        with self.held.lock:
            self.held.reserved[job.id] = job
        self.notify("job_reserved", job)

    def _unreserve(self, job: ClaimedJob) -> bool:
        with self.held.lock:
            ours = self.held.reserved.pop(job.id, None) is not None
        if not ours:  # the heartbeat found its lock lost (stall recovery returns it) or a stop handed it back
            self.notify("job_released", job)
        return ours

    def _enter(self, job: ClaimedJob) -> tuple[bool, bool]:
        """An ordinary job: waits only while a suspect runs or is about to (so suspects are not starved).
        Returns (alone, waited): never alone, and whether it had to wait (it was reserved meanwhile)."""
        with self._lock:
            waited = bool(self._alone or self._suspects_waiting)
            if waited:
                self._reserve(job)
                deadline = time.monotonic() + WAIT_ALONE_S
                while (self._alone or self._suspects_waiting) and self._wait(deadline):
                    pass  # past the deadline a suspect outlived its wait: run beside it, as it would beside us
            self._running += 1
            return False, waited

    def _enter_alone(self, job: ClaimedJob) -> tuple[bool, bool]:
        with self._lock:
            self._suspects_waiting += 1
            waited = bool(self._running or self._alone)
            if waited:
                self._reserve(job)
            deadline = time.monotonic() + WAIT_ALONE_S
            while (self._running or self._alone) and self._wait(deadline):
                pass
            self._suspects_waiting -= 1
            alone = not self._running and not self._alone
            self._alone = self._alone or alone
            self._running += 1
            self._wake_sleepers()  # fewer suspects waiting: an ordinary job may go
            return alone, waited

    def _wait(self, deadline: float) -> bool:
        """Wait (lock held) for a change until ``deadline``; False once it has passed."""
        self._sleepers += 1
        try:
            return self._changed.wait(max(0.0, deadline - time.monotonic()))
        finally:
            self._sleepers -= 1

    def _leave(self, alone: bool) -> None:
        with self._lock:
            self._running -= 1
            if alone:
                self._alone = False
            self._wake_sleepers()

    def _wake_sleepers(self) -> None:
        if self._sleepers:
            self._changed.notify_all()


class _Admission:
    """``Quarantine.admit``'s context: the job's place is held from enter to exit."""

    __slots__ = ("_alone", "_job", "_quarantine")

    def __init__(self, quarantine: Quarantine, job: ClaimedJob) -> None:
        self._quarantine, self._job, self._alone = quarantine, job, False

    def __enter__(self) -> bool:
        quarantine, job = self._quarantine, self._job
        enter = quarantine._enter_alone if is_suspect(job.fields) else quarantine._enter
        self._alone, waited = enter(job)
        try:
            return not waited or quarantine._unreserve(job)
        except BaseException:  # the place is taken: give it back, as __exit__ would
            quarantine._leave(self._alone)
            raise

    def __exit__(self, *exc_info: object) -> None:
        self._quarantine._leave(self._alone)
