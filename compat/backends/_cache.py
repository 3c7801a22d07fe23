"""The backend's cache of finished tasks' metas, as Celery's ``result_cache_max`` sets it up.

Why: Celery clients that read the same finished results again (``backend.get_task_meta``) may keep them in
memory. As in Celery, the cache is off by default (``result_cache_max = -1``: it keeps nothing), ``0`` or
``None`` keeps every finished meta, a positive number keeps that many, the least recently read first out.
Only finished (ready) metas are kept; an explicit write for an id drops its entry.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

__all__ = ["ResultCache"]

#: ``result_cache_max`` value that turns the cache off (Celery's default).
DISABLED = -1


class ResultCache:
    """A least-recently-used map of task id -> meta, or nothing at all when disabled."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < DISABLED):
            raise ValueError(f"result_cache_max must be -1 (off), 0/None (no limit) or a positive count, got {limit!r}")
        self.limit = limit
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.limit != DISABLED

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, task_id: str) -> dict[str, Any]:
        self._entries.move_to_end(task_id)
        return self._entries[task_id]

    def __setitem__(self, task_id: str, meta: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._entries[task_id] = meta
        self._entries.move_to_end(task_id)
        while self.limit and len(self._entries) > self.limit:
            self._entries.popitem(last=False)

    def pop(self, task_id: str, default: Any = None) -> Any:
        return self._entries.pop(task_id, default)

    def clear(self) -> None:
        self._entries.clear()
