"""Retry decisions and backoff delays: pure functions over a RetryPolicy (seeds: retry-backoff)."""

from __future__ import annotations

import random

from .errors import RetryError, TimeoutError
from .options import RetryPolicy


def should_retry(policy: RetryPolicy, error: BaseException, attempt: int) -> bool:
    """Whether attempt number ``attempt`` (1-based) that raised ``error`` gets another run.

    ``RetryError`` always retries while attempts remain; ``TimeoutError`` only when listed in
    ``retry_on``; otherwise ``retry_on`` whitelists and ``no_retry_on`` blacklists.
    """
    if attempt >= policy.attempts:
        return False
    if isinstance(error, RetryError):
        return True
    if policy.retry_on:
        return isinstance(error, policy.retry_on)
    if isinstance(error, TimeoutError):
        return False
    if policy.no_retry_on and isinstance(error, policy.no_retry_on):
        return False
    return True


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait before the run after attempt ``attempt``: strategy, then cap, then ±25 % jitter."""
    if callable(policy.backoff):
        delay = float(policy.backoff(attempt))
    elif policy.backoff == "fixed":
        delay = policy.delay
    elif policy.backoff == "linear":
        delay = policy.delay * attempt
    else:
        delay = policy.delay * (2 ** (attempt - 1))
    if policy.max_delay is not None:
        delay = min(delay, policy.max_delay)
    if policy.jitter:
        delay *= (rng or random).uniform(0.75, 1.25)
    return max(delay, 0.0)
