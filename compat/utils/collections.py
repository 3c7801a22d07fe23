"""Celery's ``celery.utils.collections`` containers that user code and worker state use."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["LimitedSet"]


class LimitedSet:
    """A set that forgets its oldest members past ``maxlen`` or after ``expires`` seconds (``0``: never).

    Expired members are dropped by :meth:`purge` (called when an ``add`` goes past ``maxlen``), as in Celery.
    Members are stamped with :func:`time.monotonic` (as in Celery 5.7), so a wall-clock step never expires
    them early or keeps them forever.

    The worker keeps revoked and finished ids in these so that a long-running process stays bounded. Its slots
    add to them from several threads at once (every job that succeeds is added), so every read and write holds
    one lock: past ``maxlen`` each ``add`` purges, which walks the members, and a walk another thread changed
    raised ``RuntimeError`` in the job that had just succeeded.
    """

    def __init__(self, maxlen: int = 0, expires: float = 0, data: Iterable[Any] | None = None,
                 minlen: int = 0) -> None:  # fmt: skip
        self.maxlen = 0 if maxlen is None else maxlen
        self.expires = 0 if expires is None else expires
        self.minlen = minlen
        self._data: OrderedDict[Any, float] = OrderedDict()
        self._lock = threading.RLock()  # update() adds, add() purges: both under it
        self.update(data or ())

    def add(self, item: Any, now: float | None = None) -> None:
        stamp = time.monotonic() if now is None else now
        with self._lock:
            self._data.pop(item, None)
            self._data[item] = stamp
            if self.maxlen and len(self._data) > self.maxlen:
                self.purge(now=stamp)

    def update(self, other: Iterable[Any]) -> None:
        if isinstance(other, LimitedSet):
            for item, when in other.as_dict().items():
                self.add(item, when)
            return
        for item in other:
            self.add(item)

    def discard(self, item: Any) -> None:
        with self._lock:
            self._data.pop(item, None)

    pop_value = discard

    def pop(self, default: Any = None) -> Any:
        """Remove and return the oldest member (``default`` when empty)."""
        with self._lock:
            if not self._data:
                return default
            return self._data.popitem(last=False)[0]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def purge(self, now: float | None = None) -> None:
        """Drop members past ``maxlen``, and those older than ``expires`` (keeping at least ``minlen``)."""
        with self._lock:
            while self.maxlen and len(self._data) > self.maxlen:
                self._data.popitem(last=False)
            if self.expires:
                limit = (time.monotonic() if now is None else now) - self.expires
                while len(self._data) > self.minlen and next(iter(self._data.values())) < limit:
                    self._data.popitem(last=False)

    def as_dict(self) -> dict[Any, float]:
        """``{member: time added}``."""
        with self._lock:
            return dict(self._data)

    def __contains__(self, item: Any) -> bool:
        return item in self._data

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LimitedSet):
            return set(self) == set(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<LimitedSet({len(self)}): maxlen={self.maxlen}, expires={self.expires}>"
