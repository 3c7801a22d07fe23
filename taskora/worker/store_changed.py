"""Telling a replaced store apart from an unreachable one in the worker's log.

When the Redis behind the worker's URL is replaced by a store of another wire format (restarted from another
deployment's snapshot, a Sentinel failover to another set, a cluster node replaced), every new connection is
refused with ``StoreChangedError`` (adapters/connection_check.py). That error is also a connection error, so
the worker's threads wait it out like an outage and resume if the store is put right. But "Redis unreachable"
would send an operator looking for a network problem: Redis answers, it holds data this process must not
touch. So the first refusal is logged once, at ERROR, with the URL (password masked) and the versions on both
sides; the same refusal seen again by other threads, or by the same thread on its next attempt, is DEBUG.
A refusal with other versions (the store replaced once more), or after the worker found the store right
again (``forget``), is logged again.
"""

from __future__ import annotations

import logging
import os
import threading

from ..errors import SchemaVersionMismatchError
from ..urls import mask_url

log = logging.getLogger("taskora.worker")


def is_store_change(error: BaseException) -> bool:
    """A connection refused because the store behind the URL speaks another wire format (StoreChangedError is
    a SchemaVersionMismatchError; a plain connection error is not)."""
    return isinstance(error, SchemaVersionMismatchError)


class StoreChanges:
    """What this process has already reported about a replaced store (one ERROR per distinct refusal)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reported: dict[str, str] = {}  # address -> the refusal last logged for it

    def report(self, address: str, error: BaseException) -> None:
        text = str(error)
        with self._lock:
            first = self._reported.get(address) != text
            self._reported[address] = text
        if first:
            log.error("the store behind %s changed: %s; writing nothing to it, waiting for it to be put right",
                      mask_url(address), text)  # fmt: skip
        else:
            log.debug("the store behind %s is still refused: %s", mask_url(address), text)

    def forget(self, address: str) -> None:
        """The store behind ``address`` was found right again: its next refusal is news."""
        with self._lock:
            self._reported.pop(address, None)

    def reset(self) -> None:
        """Forget what was reported (a forked child reports its own)."""
        self._lock = threading.Lock()
        self._reported = {}


#: The process's record, fresh in every forked child.
STORE_CHANGES = StoreChanges()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=STORE_CHANGES.reset)
