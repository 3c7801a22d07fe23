"""Waiting on an empty queue, the same for a slot of its own and for a feeder: block on the task's
marker until a job may be claimable, the next delayed job falls due, or ``MAX_BLOCK_S`` passes
(which also bounds how late a stop is seen)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.redis import RedisAdapter

#: Longest one wait blocks before the caller looks again.
MAX_BLOCK_S = 5.0


def wait_for_work(adapter: RedisAdapter, task: str, next_due_ms: int | None) -> None:
    """Block until the marker is set, ``next_due_ms`` (epoch ms) arrives, or ``MAX_BLOCK_S`` passes."""
    timeout = MAX_BLOCK_S
    if next_due_ms is not None:
        timeout = min(timeout, max(0.0, (next_due_ms - adapter.now_ms()) / 1000))
    if timeout > 0:
        adapter.wait_for_work(task, timeout)
