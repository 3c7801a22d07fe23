"""Rate limits: how many jobs of a task may start per period, counted across every worker of the Redis.

A limit is given as Celery writes it (``"10/s"``, ``"100/m"``, ``"5/h"``; a bare number is per
second), as a number of jobs per second, or as ``{"limit": 5, "per": "1s"}`` (``per`` any duration).
None, 0 and ``"0"`` mean no limit.

The engine enforces it in the claim itself (``lua/lib/claim.lua``): the task's limiter is a hash at
``taskora:{<task>}:ratelimit`` holding the interval between two starts and the time the next start is
due, so every worker, fused ack-and-claim and batch claim takes the same turns. A claim that comes
too early claims nothing and answers when the next job may start; the worker sleeps until then (its
due alarm wakes it), so nothing busy-loops and no job is held while waiting. Like Celery's bucket the
capacity is one: ten jobs of a ``"5/s"`` task start over at least 1.8 s, whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .concurrency import declare_singletons
from .durations import to_seconds
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .app import Taskora
    from .task import Task

__all__ = ["RateLimit", "apply_rate_limits", "parse_rate_limit", "rate_limit_of", "set_rate_limit"]

#: Celery's period suffixes (only the first letter counts: ``"10/sec"`` is ``"10/s"``).
PERIODS_S = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class RateLimit:
    """``limit`` job starts per ``per`` seconds."""

    limit: float
    per: float

    @property
    def interval_ms(self) -> float:
        """Milliseconds between two starts (what the engine's limiter keeps)."""
        return self.per * 1000.0 / self.limit

    def __str__(self) -> str:
        return f"{self.limit:g}/{self.per:g}s"


def _bad(name: str, value: Any, why: str) -> ConfigurationError:
    return ConfigurationError(f'{name}: {why}; expected "10/s", "100/m", "5/h", a number per second or '
                              f'{{"limit": 5, "per": "1s"}}, got {value!r}')


def _from_text(text: str, name: str) -> RateLimit | None:
    count, _, period = text.strip().partition("/")
    unit = period.strip()[:1].lower() or "s"
    if unit not in PERIODS_S:
        raise _bad(name, text, f"unknown period {period!r}")
    try:
        limit = float(count)
    except ValueError:
        raise _bad(name, text, f"{count!r} is not a number") from None
    return _checked(limit, PERIODS_S[unit], name, text)


def _from_mapping(value: Mapping[str, Any], name: str) -> RateLimit | None:
    unknown = set(value) - {"limit", "per"}
    if unknown or "limit" not in value:
        raise _bad(name, dict(value), "needs 'limit' (and optionally 'per')")
    limit = value["limit"]
    if isinstance(limit, bool) or not isinstance(limit, (int, float)):
        raise _bad(name, dict(value), "'limit' must be a number")
    return _checked(float(limit), to_seconds(value.get("per", 1.0), name=f"{name}.per"), name, dict(value))


def _checked(limit: float, per: float, name: str, given: Any) -> RateLimit | None:
    if limit < 0 or limit != limit or limit == float("inf") or per <= 0:
        raise _bad(name, given, "the limit must be a finite number >= 0 and the period > 0")
    return RateLimit(limit, per) if limit > 0 else None


def parse_rate_limit(value: Any, *, name: str = "rate_limit") -> RateLimit | None:
    """Read a rate limit (see the module docstring); None when there is none.

    Raises:
        ConfigurationError: naming ``name`` and the value that is not a rate limit.
    """
    if value is None or isinstance(value, RateLimit):
        return value
    if isinstance(value, str):
        return _from_text(value, name) if value.strip() else None
    if isinstance(value, Mapping):
        return _from_mapping(value, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(name, value, "not a rate limit")
    return _checked(float(value), 1.0, name, value)


def rate_limit_of(task: Task[Any, Any]) -> RateLimit | None:
    """The limit a task declares: the native ``rate_limit=`` option, else a front-end's ``extra['rate_limit']``."""
    own = getattr(task.options, "rate_limit", None)
    if own is not None:
        return parse_rate_limit(own)
    return parse_rate_limit(task.options.extra.get("rate_limit"), name=f"{task.name}: rate_limit")


def set_rate_limit(app: Taskora, task_name: str, limit: Any) -> RateLimit | None:
    """Change a task's limit for every worker at once (None/0: no limit); returns the limit now in force.

    Raises:
        ConfigurationError: ``limit`` is not a rate limit (nothing is written then).
    """
    parsed = parse_rate_limit(limit, name=f"{task_name}: rate_limit")
    app.adapter.set_rate_limit(task_name, None if parsed is None else parsed.interval_ms)
    return parsed


def apply_rate_limits(app: Taskora, tasks: Iterable[Task[Any, Any]]) -> None:
    """Record the limit each task a worker starts for declares, when it differs from the one recorded.

    A limit changed at run time (``set_rate_limit``, Celery's ``control.rate_limit``) so stays in force
    while workers start and stop (prefork children are replaced), until a deploy changes the task's
    declared limit: then that one applies.
    """
    tasks = list(tasks)
    limits = [(task.name, rate_limit_of(task)) for task in tasks]  # every one parsed before anything is written
    for name, limit in limits:
        app.adapter.declare_rate_limit(name, None if limit is None else limit.interval_ms)
    declare_singletons(app, tasks)  # the other task-wide claim rule a worker declares (taskora/concurrency.py)
