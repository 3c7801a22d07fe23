"""The wire handshake: read (or, on a fresh store, write) ``taskora:meta`` and refuse a store whose wire
window does not meet ours, once per adapter before its first write, then once per new connection
(connection_check.py).

The TypeScript taskora does the same on its first dispatch, worker start or explicit connect (recordings
01-handshake and 23-version-mismatch): a producer that skipped it would dispatch into a store written by a
newer, older or unknown format, and a process of the other side would then misread those jobs. So every
producing adapter method passes through :class:`WireGate` first, and nothing is written when it refuses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import SchemaVersionMismatchError
from .keys import MIN_COMPAT, WIRE_VERSION
from .replies import _text

#: Our wire window as (wireVersion, minCompat), the order SchemaVersionMismatchError expects.
OURS = (WIRE_VERSION, MIN_COMPAT)


def stored_meta(reply: Sequence[Any] | None) -> dict[str, Any]:
    """The handshake script's reply ``[wireVersion, minCompat, writtenBy]`` as a dict of text (None: absent)."""
    values = list(reply or [None, None, None])
    names = ("wireVersion", "minCompat", "writtenBy")
    return {name: (_text(v) if v is not None else None) for name, v in zip(names, values, strict=False)}


def check_window(theirs: dict[str, Any]) -> None:
    """Raise SchemaVersionMismatchError unless the stored window overlaps ours.

    Garbage (missing or non-integer versions) is ``invalid_meta``; a store whose oldest readable version is
    newer than ours is ``theirs_too_new`` (what TypeScript reports for a wireVersion 7 store); one older than
    the oldest we read is ``theirs_too_old``."""
    try:
        their_version, their_min = int(theirs["wireVersion"]), int(theirs["minCompat"])
    except (TypeError, ValueError, KeyError):
        raise SchemaVersionMismatchError("invalid_meta", OURS, theirs) from None
    if their_min > WIRE_VERSION:
        raise SchemaVersionMismatchError("theirs_too_new", OURS, theirs)
    if their_version < MIN_COMPAT:
        raise SchemaVersionMismatchError("theirs_too_old", OURS, theirs)


def unreadable_meta(error: Exception) -> SchemaVersionMismatchError | None:
    """The mismatch error for a ``taskora:meta`` key that is not a hash (WRONGTYPE), else None."""
    if "WRONGTYPE" in str(error):
        return SchemaVersionMismatchError("invalid_meta", OURS, {"wireVersion": None, "minCompat": None,
                                                                 "writtenBy": f"a non-hash key ({error})"})
    return None


class WireGate:
    """Runs the handshake once, before the first write of this adapter (thread-safe).

    A worker's ``connect()`` passes the gate too, so a process that both works and produces handshakes
    once. A refused handshake leaves the gate closed: every later write asks again, and is refused again
    until the store is fixed. Once passed, the gate is ``armed``: every connection the adapter opens from
    then on handshakes as it connects (connection_check.py), which is what catches a store that changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._passed = False
        self.armed = False

    def mark_passed(self) -> None:
        self._passed = self.armed = True

    def ensure(self, handshake: Callable[[], object]) -> None:
        if self._passed:
            return
        with self._lock:
            if not self._passed:
                handshake()
                self._passed = True
