"""Clean by age: delete a task's finished jobs of one state that finished longer ago than a given age.

The engine's retention trims finished jobs as workers run; this is the operator's broom for the rest
(``app.clean``, ``taskora clean``, the board's "Clean" button). It works in bounded batches, one atomic
script call each (lua/clean_finished.lua), so removing a million jobs never stalls Redis for other
clients, and it only ever reads the finished states' sets: waiting, delayed and active jobs are safe.
Same semantics as TypeScript taskora's ``adapter.cleanJobs(task, state, before, limit)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .durations import Duration, to_seconds
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .adapters.base import JobRemoving

#: The states jobs can be cleaned from (each has a sorted set scored by the time the job finished).
CLEANABLE_STATES = ("completed", "failed", "cancelled", "expired")
#: Jobs deleted per script call: a few milliseconds of Redis time (see docs/operations/board.md).
DEFAULT_BATCH = 1000
#: The largest batch accepted: bounded so one call cannot hold Redis for long.
MAX_BATCH = 10_000


@dataclass(frozen=True)
class CleanRequest:
    """A validated clean: which jobs go (``state``, finished at or before ``before_ms``) and how many."""

    task: str
    state: str
    before_ms: int
    limit: int | None
    batch: int


def check_state(state: str) -> str:
    """``state`` when jobs can be cleaned from it; ConfigurationError naming the cleanable ones otherwise."""
    if state not in CLEANABLE_STATES:
        raise ConfigurationError(f"clean: cannot clean jobs in state {state!r}; "
                                 f"only finished ones: {', '.join(CLEANABLE_STATES)}")
    return state


def _check_count(value: int | None, name: str, maximum: int | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"clean: {name} must be a positive integer, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"clean: {name} must be at most {maximum}, got {value}")


def make_request(task: str, now_ms: int, *, state: str = "completed", older_than: Duration = 0,
                 before_ms: int | None = None, limit: int | None = None,
                 batch: int = DEFAULT_BATCH) -> CleanRequest:  # fmt: skip
    """Validate a clean's arguments (nothing is deleted on a bad one) and fix its cutoff: ``before_ms``
    when given (TypeScript's ``before``, epoch ms), else ``older_than`` before ``now_ms``."""
    check_state(state)
    age_s = to_seconds(older_than, name="clean: older_than")
    _check_count(limit, "limit")
    _check_count(batch, "batch", MAX_BATCH)
    cutoff = before_ms if before_ms is not None else now_ms - round(age_s * 1000)
    return CleanRequest(task, state, cutoff, limit, batch)


def run(adapter: JobRemoving, request: CleanRequest) -> int:
    """Delete the jobs ``request`` names, batch by batch; returns how many were deleted."""
    deleted = 0
    while request.limit is None or deleted < request.limit:
        size = request.batch if request.limit is None else min(request.batch, request.limit - deleted)
        gone, looked_at = adapter.clean_finished(request.task, request.state, request.before_ms, size)
        deleted += gone
        if looked_at < size:
            break
    return deleted

