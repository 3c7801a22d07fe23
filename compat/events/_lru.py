"""A size-bounded mapping that forgets its least recently used entries (what ``State`` keeps tasks and workers in)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any


class LRUCache:
    """``dict``-like, at most ``limit`` entries; reading or writing a key makes it the most recent one."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.mutex = threading.RLock()

    def __getitem__(self, key: Any) -> Any:
        with self.mutex:
            value = self.data[key]
            self.data.move_to_end(key)
            return value

    def __setitem__(self, key: Any, value: Any) -> None:
        with self.mutex:
            self.data[key] = value
            self.data.move_to_end(key)
            while self.limit is not None and len(self.data) > self.limit:
                self.data.popitem(last=False)

    def __delitem__(self, key: Any) -> None:
        with self.mutex:
            del self.data[key]

    def __contains__(self, key: Any) -> bool:
        return key in self.data

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self.data))

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self.data else default

    def pop(self, key: Any, *default: Any) -> Any:
        with self.mutex:
            return self.data.pop(key, *default)

    def keys(self) -> list[Any]:
        return list(self.data)

    def values(self) -> list[Any]:
        return list(self.data.values())

    def items(self) -> list[tuple[Any, Any]]:
        return list(self.data.items())

    def clear(self) -> None:
        with self.mutex:
            self.data.clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value
