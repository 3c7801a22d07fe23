"""Retry decisions and backoff delays: pure functions over a RetryPolicy (seeds: retry-backoff)."""

from __future__ import annotations

import random

from .durations import to_seconds
from .errors import MigrationError, RetryError, SchemaVersionMismatchError, TimeoutError, ValidationError
from .options import RetryPolicy

#: Failures another attempt cannot fix: the same data fails the same schema, version check or migration.
NEVER_RETRIED = (ValidationError, SchemaVersionMismatchError, MigrationError)


def should_retry(policy: RetryPolicy, error: BaseException, attempt: int) -> bool:
    """Whether attempt number ``attempt`` (1-based) that raised ``error`` gets another run.

    ``RetryError`` always retries while attempts remain; ``TimeoutError`` only when listed in
    ``retry_on``; otherwise ``retry_on`` whitelists and ``no_retry_on`` blacklists.
    """
    if attempt >= policy.attempts or isinstance(error, NEVER_RETRIED):
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


def retry_delay_ms(policy: RetryPolicy, error: BaseException, attempt: int) -> tuple[int | None, str | None]:
    """Milliseconds until the retry of a failed attempt, or ``(None, why)`` when no valid delay comes out.

    The delay of ``RetryError(delay=...)`` (or else the backoff) is checked like any duration: a NaN, an
    infinite or enormous delay, or a backoff function that raises or returns text, fails the job
    with the reason instead of breaking the worker's bookkeeping and leaving the job active until it stalls.
    """
    delay = error.delay if isinstance(error, RetryError) and error.delay is not None else None
    try:
        if delay is None:
            delay = backoff_delay(policy, attempt)
        seconds = to_seconds(delay, name="retry delay", allow_negative=True)  # a past delay: retry at once
        return int(round(max(seconds, 0.0) * 1000)), None
    except Exception as exc:  # noqa: BLE001 - any failure here is the policy's, reported on the job
        return None, f"{type(exc).__name__}: {exc}"
