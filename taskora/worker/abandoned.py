"""An abandoned handler keeps its place in the running budget until it really ends.

On the threads pool a handler past its hard time limit (limits.py) or its ``timeout`` (executor.py) cannot be
killed: its attempt fails at once and its slot moves on, while the handler's thread runs on until it notices
``ctx.signal``, an interrupt lands (interrupt.py) or it returns. Were its permit given back with the slot, the
budget's promise (budget.py: at most N handlers at once in this process) would break: N new handlers would run
beside every abandoned one, and a handler that keeps timing out would pile up threads. So the permit of the
job's slot is handed over to the abandoned thread, which gives it back when it ends; the next job in line
waits meanwhile, reserved (its lock kept by the heartbeat). Both are logged. Without a budget there is no
permit to keep (each task's slots bound it), and only the interrupts remain.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .budget import Permit

log = logging.getLogger("taskora.worker")

_lock = threading.Lock()
#: Job id -> the permit its handler runs under now (the slot's, or the abandoned thread's once handed over).
_permits: dict[str, Permit] = {}


class holding:  # noqa: N801 - used as a function: ``with holding(job_id, permit):``
    """While a slot runs ``job_id`` under ``permit``, a limit that abandons its handler finds the permit here.
    A plain class, not a generator: it wraps every job a budgeted worker runs."""

    __slots__ = ("_job_id", "_permit")

    def __init__(self, job_id: str, permit: Permit) -> None:
        self._job_id, self._permit = job_id, permit

    def __enter__(self) -> None:
        with _lock:
            _permits[self._job_id] = self._permit

    def __exit__(self, *exc_info: object) -> None:
        _forget(self._job_id, self._permit)


def keep_place_until_done(job_id: str, done: threading.Event, what: str) -> None:
    """The handler of ``job_id`` is abandoned (its attempt failed, its thread runs on until ``done``): it keeps
    the permit it runs under until then, and the slot's own release of that permit does nothing."""
    with _lock:
        permit = _permits.get(job_id)
        kept = None if permit is None else permit.hand_over()
        if kept is not None:
            _permits[job_id] = kept
    if kept is None:
        return
    log.warning("%s: its handler runs on past its limit; it keeps its place in the running budget until it ends",
                what)
    threading.Thread(target=_release_when_done, args=(job_id, kept, done, what), name="taskora-abandoned",
                     daemon=True).start()


def _release_when_done(job_id: str, kept: Permit, done: threading.Event, what: str) -> None:
    started = time.monotonic()
    done.wait()
    kept.release()
    _forget(job_id, kept)
    log.warning("%s: its abandoned handler ended %.1fs after its limit; its place in the running budget is free",
                what, time.monotonic() - started)


def _forget(job_id: str, permit: Permit) -> None:
    with _lock:
        if _permits.get(job_id) is permit:
            del _permits[job_id]
