"""Waking a stopping worker's slots, or cutting Redis's connections when Redis no longer answers.

A stop wakes every slot blocked on a task's marker (``wake_workers``), so that it sees the stop at once
instead of after its block. A Redis that went silent without closing its sockets (a suspended VM, a
firewall dropping the flow) answers neither the wake nor the blocked reads: each would hold the stop for
its socket timeout, and a blocking one forever. So the wake gets ``WAKE_GRACE_S``; past it, or when it
fails, the adapter cuts its connections (adapters/cutting.py) and every later call on them gives up after
``CUT_TIMEOUT_S``. The stop then ends in seconds whatever Redis does; a job claimed in the cut is
reclaimed like any job whose worker went away.

A prefork child may still be starting (connecting, handshaking) when the stop comes: its supervisor says
ready once the children are forked. ``start_unless_stopped`` cuts at once there, since a start holds no job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .reconnect import OUTAGE, address_of, once

log = logging.getLogger("taskora.worker")

#: How long a stop waits for Redis to take the wake before it takes Redis for gone silent.
WAKE_GRACE_S = 2.0
#: How long any read or connect may take once the connections are cut.
CUT_TIMEOUT_S = 1.0


def wake_or_cut(adapter: Any, address: str, wakes: list[tuple[str, int]], worker: str | None = None) -> bool:
    """Wake ``count`` slots of each ``(task, count)`` (``worker``'s own, or any); True if Redis took every wake,
    else cut and False."""
    woke = threading.Event()

    def wake_all() -> None:
        for task, count in wakes:
            adapter.wake_workers(task, count, worker)
        woke.set()

    waker = threading.Thread(target=once, args=(address, wake_all), name="taskora-stop-wake", daemon=True)
    waker.start()
    waker.join(WAKE_GRACE_S)
    if woke.is_set():
        return True
    log.warning("Redis at %s did not take the stop's wake within %.0f s: cutting its connections so the worker "
                "can stop (a job claimed meanwhile is reclaimed by the other workers)", address, WAKE_GRACE_S)
    _cut(adapter, address)
    return False


def _cut(adapter: Any, address: str) -> None:
    """Cut the adapter's connections, first telling the outage record that the failures to come are this cut's."""
    OUTAGE.cut(address)
    adapter.cut_connections(CUT_TIMEOUT_S)


def start_unless_stopped(start: Callable[[], None], adapter: Any, signals: Any) -> bool:
    """Run ``start``; True once it returned. A stop requested meanwhile (``signals``: a StopSignals) cuts the
    adapter's connections, so a start held by a silent Redis (a read waits out its 30 s socket timeout) ends at
    once: False when the start was given up that way. A start failing for any other reason raises, as before."""
    started = threading.Event()

    def cut_if_stopped() -> None:
        signals.changed.wait()  # not cleared here: ``serve`` reads it next
        if signals.terms and not started.is_set():
            # INFO: stopping a worker that is still starting (a Ctrl-C at once) is nothing to warn about
            log.info("stop requested while starting: cutting the connections to Redis (no job is held yet)")
            _cut(adapter, address_of(adapter))

    threading.Thread(target=cut_if_stopped, name="taskora-start-watch", daemon=True).start()
    try:
        start()
    except Exception:
        if not signals.terms:
            raise
        log.info("start given up: a stop was requested before the connection to Redis was made")
        return False
    finally:
        started.set()
        signals.changed.set()  # ends the watcher; ``serve`` only looks again at the signal counts
    return True
