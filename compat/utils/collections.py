"""Celery's ``celery.utils.collections`` containers that user code and worker state use."""

from __future__ import annotations

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

    The worker keeps revoked and finished ids in these so that a long-running process stays bounded.
    """

    def __init__(self, maxlen: int = 0, expires: float = 0, data: Iterable[Any] | None = None,
                 minlen: int = 0) -> None:  # fmt: skip
        self.maxlen = 0 if maxlen is None else maxlen
        self.expires = 0 if expires is None else expires
        self.minlen = minlen
        self._data: OrderedDict[Any, float] = OrderedDict()
        self.update(data or ())

    def add(self, item: Any, now: float | None = None) -> None:
        self._data.pop(item, None)
        stamp = time.monotonic() if now is None else now
        self._data[item] = stamp
        if self.maxlen and len(self._data) > self.maxlen:
            self.purge(now=stamp)

    def update(self, other: Iterable[Any]) -> None:
        if isinstance(other, LimitedSet):
            for item, when in other._data.items():
                self.add(item, when)
            return
        for item in other:
            self.add(item)

    def discard(self, item: Any) -> None:
        self._data.pop(item, None)

    pop_value = discard

    def pop(self, default: Any = None) -> Any:
        """Remove and return the oldest member (``default`` when empty)."""
        if not self._data:
            return default
        return self._data.popitem(last=False)[0]

    def clear(self) -> None:
        self._data.clear()

    def purge(self, now: float | None = None) -> None:
        """Drop members past ``maxlen``, and those older than ``expires`` (keeping at least ``minlen``)."""
        while self.maxlen and len(self._data) > self.maxlen:
            self._data.popitem(last=False)
        if self.expires:
            limit = (time.monotonic() if now is None else now) - self.expires
            while len(self._data) > self.minlen and next(iter(self._data.values())) < limit:
                self._data.popitem(last=False)

    def as_dict(self) -> dict[Any, float]:
        """``{member: time added}``."""
        return dict(self._data)

    def __contains__(self, item: Any) -> bool:
        return item in self._data

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LimitedSet):
            return set(self._data) == set(other._data)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<LimitedSet({len(self)}): maxlen={self.maxlen}, expires={self.expires}>"
