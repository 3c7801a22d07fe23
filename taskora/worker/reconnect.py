"""One way for the worker's threads to live through a Redis outage: retry with backoff, report once.

Every thread of a worker process talks to Redis (slots, feeders, heartbeat, liveness, maintenance,
the cancel and control listeners). When Redis goes away they all fail at once, each every few
hundred milliseconds; logging each failure buries the one fact that matters under hundreds of
lines. So the process keeps one ``Outage`` record: the first thread that fails logs one WARNING
("Redis unreachable at <url>: <error>; retrying"), the others stay quiet (DEBUG), and the first
thread that succeeds again logs one INFO line with how long it lasted.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..adapters.base import CONNECTION_ERRORS
from ..urls import mask_url
from .store_changed import STORE_CHANGES, is_store_change

log = logging.getLogger("taskora.worker")

T = TypeVar("T")

#: First and longest pause between two attempts of a loop that retries while Redis is unreachable.
FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 2.0
#: How long after a stop cut this process's connections (stop_wake.py) their failures are taken as the cut's.
CUT_QUIET_S = 10.0


class Outage:
    """Whether this process currently finds Redis unreachable, and since when.

    Invariant: each outage logs exactly one WARNING (on its first failure) and one INFO (on the first
    success after it), however many threads fail or recover; a forked child starts with a clean record.
    A call that was already under way when the outage began (or ended) says nothing about the connection
    now: given its start (``started``, time.monotonic()), its success does not end the outage, nor does its
    failure start a new one. Neither does a failure of a connection this process cut itself to stop (``cut``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None
        self._back_at = 0.0
        self._cut_until: dict[str, float] = {}

    def cut(self, address: str) -> None:
        """A stopping worker is cutting its connections to ``address`` (stop_wake.py): for ``CUT_QUIET_S`` the
        failures its threads meet there are that cut's (logged at DEBUG), not an outage to warn about."""
        with self._lock:
            self._cut_until[address] = time.monotonic() + CUT_QUIET_S

    def was_cut(self, address: str) -> bool:
        """Whether this process's stop cut its connections to ``address`` within ``CUT_QUIET_S``: Redis went silent,
        so a goodbye from a part that does not see the stop itself (the served names) would only wait out its
        timeout. A pool's own tear-down keeps what its stop found instead (``Worker._cut``, ``Supervisor._cut``)."""
        until = self._cut_until.get(address)
        return until is not None and time.monotonic() < until

    @property
    def down(self) -> bool:
        return self._since is not None

    def lost(self, address: str, error: BaseException, doing: str = "", started: float | None = None) -> None:
        """A call to Redis failed with a connection error: the first failure of an outage is logged. A store that
        answers but was replaced (StoreChangedError) is no outage: it is reported as such (store_changed.py)."""
        if is_store_change(error):
            STORE_CHANGES.report(address, error)
            return
        if self.was_cut(address):
            log.debug("connection to %s failed after this worker cut it to stop: %s", mask_url(address), error)
            return
        with self._lock:
            stale = started is not None and started < self._back_at  # sent on a connection the outage broke
            first = self._since is None and not stale
            if first:
                self._since = time.monotonic()
        if first:
            log.warning("Redis unreachable at %s: %s; retrying", mask_url(address), error)
        else:
            log.debug("Redis still unreachable%s: %s", f" ({doing})" if doing else "", error)

    def back(self, started: float | None = None) -> None:
        """A call to Redis succeeded: the first success after an outage is logged (cheap when none was)."""
        if self._since is None:
            return
        with self._lock:
            since = self._since
            if since is None or (started is not None and started < since):
                return  # its reply was on its way before the outage began
            self._since, self._back_at = None, time.monotonic()
        if since is not None:
            log.info("Redis reachable again after %.1f s", time.monotonic() - since)

    def reset(self) -> None:
        """Forget any outage (a forked child reports its own)."""
        self._lock = threading.Lock()
        self._since = None
        self._back_at = 0.0
        self._cut_until = {}


#: The process's record: shared by every thread, fresh in every forked child.
OUTAGE = Outage()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=OUTAGE.reset)


class Backoff:
    """The pause before a failed Redis call is tried again: doubles from ``FIRST_BACKOFF_S`` up to
    ``MAX_BACKOFF_S``, back to the first after a success."""

    def __init__(self, first: float = FIRST_BACKOFF_S, most: float = MAX_BACKOFF_S) -> None:
        self.first, self.most, self.delay = first, most, first

    def wait(self, stop: threading.Event) -> bool:
        """Sleep the current delay (less if ``stop`` is set meanwhile) and double it; True if ``stop`` is set."""
        stopped = stop.wait(self.delay)
        self.delay = min(self.delay * 2, self.most)
        return stopped

    def reset(self) -> None:
        self.delay = self.first


def address_of(adapter: Any) -> str:
    """The broker address to name in outage logs (the in-memory adapter has none)."""
    return str(getattr(adapter, "address", "redis"))


def once(address: str, fn: Callable[..., T], *args: Any) -> T | None:
    """Call ``fn(*args)`` once; a connection error is reported to ``OUTAGE`` and gives None."""
    started = time.monotonic()
    try:
        result = fn(*args)
    except CONNECTION_ERRORS as exc:
        OUTAGE.lost(address, exc, getattr(fn, "__name__", ""), started)
        return None
    OUTAGE.back(started)
    return result


def once_silent_on_success(address: str, fn: Callable[..., T], *args: Any) -> T | None:
    """``once`` for work that may not touch Redis at all (a registered feature with nothing due): a connection
    error is reported, but a return is not taken as Redis being reachable again."""
    started = time.monotonic()
    try:
        return fn(*args)
    except CONNECTION_ERRORS as exc:
        OUTAGE.lost(address, exc, getattr(fn, "__name__", ""), started)
        return None


class GaveUp(Exception):
    """``until_done`` stopped retrying because its ``give_up`` event was set; carries the last error."""


def until_done(address: str, fn: Callable[[], T], give_up: threading.Event) -> T:
    """Call ``fn()`` until it gets through to Redis, backing off between attempts; raises ``GaveUp`` (from the
    last connection error) once ``give_up`` is set while Redis is still unreachable."""
    backoff = None  # made at the first failure: most calls get through at once (one per job, outcomes.py)
    while True:
        started = time.monotonic()
        try:
            result = fn()
        except CONNECTION_ERRORS as exc:
            OUTAGE.lost(address, exc, getattr(fn, "__name__", ""), started)
            if give_up.is_set():
                raise GaveUp(str(exc)) from exc
            backoff = backoff or Backoff()
            backoff.wait(give_up)
            continue
        OUTAGE.back(started)
        return result


def run_forever(address: str, body: Callable[[], None], stop: threading.Event, *,
                on_lost: Callable[[], None] | None = None, pause: float | None = None) -> None:  # fmt: skip
    """Run ``body()`` again and again until ``stop`` is set. A connection error is reported, ``on_lost()`` (if
    any) cleans up, and the loop pauses (``pause`` seconds, else a growing backoff) before running it again."""
    backoff = Backoff()
    while not stop.is_set():
        started = time.monotonic()
        try:
            body()
        except CONNECTION_ERRORS as exc:
            OUTAGE.lost(address, exc, getattr(body, "__name__", ""), started)
            if on_lost is not None:
                on_lost()
            if stop.wait(pause) if pause is not None else backoff.wait(stop):
                return
            continue
        OUTAGE.back(started)
        backoff.reset()
