"""``memory_adapter()``: the embedded in-memory engine (fakeredis running the real scripts)."""

from __future__ import annotations

from .adapters.memory import MemoryAdapter
from .clock import Clock


def memory_adapter(*, prefix: str | None = None, clock: Clock | None = None) -> MemoryAdapter:
    """A private in-process store: no Redis needed, same scripts, same behaviour, one process only."""
    return MemoryAdapter(prefix=prefix, clock=clock)


__all__ = ["MemoryAdapter", "memory_adapter"]
