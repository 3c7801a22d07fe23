"""Waiting on an empty queue, the same for a slot of its own and for a feeder's watching slot: block
on the task's marker until a job may be claimable, the next delayed job falls due, or
``MAX_BLOCK_S`` passes (which also bounds how late a stop is seen), and claim as the wait ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.redis import ClaimResult, RedisAdapter

#: Longest one wait blocks before the caller looks again.
MAX_BLOCK_S = 5.0


def wait_timeout(adapter: RedisAdapter, next_due_ms: int | None) -> float:
    """How long to block: until ``next_due_ms`` (epoch ms) when a delayed job is due sooner than ``MAX_BLOCK_S``."""
    if next_due_ms is None:
        return MAX_BLOCK_S
    return min(MAX_BLOCK_S, max(0.0, (next_due_ms - adapter.now_ms()) / 1000))


def wait_then_claim(adapter: RedisAdapter, task: str, next_due_ms: int | None, token: str,
                    lock_ttl_ms: int) -> ClaimResult:  # fmt: skip
    """One slot's wait: the claim runs in Redis as soon as the wait ends."""
    return adapter.wait_then_claim(task, wait_timeout(adapter, next_due_ms), token, lock_ttl_ms)
