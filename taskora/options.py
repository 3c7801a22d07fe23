"""Task options as frozen values, checked when a task is declared so a typo fails at import time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .concurrency import check_key, check_limit, check_singleton
from .concurrency import check_task_options as check_claim_options
from .durations import to_seconds
from .errors import ConfigurationError, reject_unknown
from .ttl import parse_ttl

BACKOFF_STRATEGIES = ("fixed", "linear", "exponential")
#: ``retry.attempts`` at or above this has no bound: the task retries until it succeeds or stops retrying itself
#: (Celery's ``Task.retry`` counts its own). Its jobs store no ``maxAttempts`` field, since every one of them would
#: hold this same number; the worker reads the bound from the task instead (``stored_max_attempts``).
UNBOUNDED_ATTEMPTS = 2**31 - 1


@dataclass(frozen=True)
class RetryPolicy:
    """How often and when a failing job runs again (seeds: features/retry-backoff).

    ``attempts`` counts every run, the first included: 3 means one run and up to two retries.
    """

    attempts: int = 1
    backoff: str | Callable[[int], float] = "exponential"
    delay: float = 1.0
    max_delay: float | None = None
    jitter: bool = True
    retry_on: tuple[type[BaseException], ...] = ()
    no_retry_on: tuple[type[BaseException], ...] = ()


@dataclass(frozen=True)
class StallPolicy:
    """Lock lease and recovery: a job whose worker stops heart-beating for ``interval`` is stalled.

    A job whose worker is known to be gone (its liveness key lapsed) is handed back within seconds instead,
    counted in ``lostCount``; it fails only past ``max_lost`` (None: redelivered until done), so restarts of
    healthy workers never fail a healthy job.
    """

    interval: float = 30.0
    max_count: int = 1
    max_lost: int | None = 20


@dataclass(frozen=True)
class Retention:
    """How long finished jobs stay readable (seeds: completed 1 h / 100 jobs, failed 7 d / 300 jobs)."""

    completed_age: float = 3600.0
    completed_count: int = 100
    failed_age: float = 7 * 86400.0
    failed_count: int = 300


@dataclass(frozen=True)
class TaskOptions:
    """Everything a task declaration can set; see ``Taskora.task`` for each option's meaning."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    stall: StallPolicy = field(default_factory=StallPolicy)
    concurrency: int = 1
    queue: str = "default"
    priority: int = 0
    middleware: tuple[Callable[..., Any], ...] = ()
    on_cancel: Callable[..., Any] | None = None
    version: int = 1
    keep_result: bool = True
    schedule: Mapping[str, Any] | None = None
    rate_limit: Any = None  # a taskora.rate_limits.RateLimit (parsed from "5/s", a number, {"limit", "per"})
    concurrency_key: Any = None  # str or fn(data) -> str: taskora.concurrency
    concurrency_limit: int | None = None
    singleton: bool = False
    ttl: Any = None  # a taskora.ttl.TtlPolicy (parsed from "1h" or {"max", "on_expire"})
    input: Any = None  # a schema (taskora/schemas.py) for the job data; see taskora/validation.py
    output: Any = None  # a schema for the handler's return value
    since: int | None = None  # the oldest payload version still run (versioning.py); None: 1
    migrate: Any = None  # {version: step} or [step, ...] (versioning.py)
    collect: Any = None  # a taskora.collect.CollectConfig (parsed from {"key", "delay", "max_size", "max_wait"})
    extra: Mapping[str, Any] = field(default_factory=dict)


def _exception_tuple(value: Any, name: str) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise ConfigurationError(f"retry.{name}: expected exception classes, got {item!r}")
    return tuple(items)


def parse_retry(value: RetryPolicy | Mapping[str, Any] | int | None, base: RetryPolicy | None = None) -> RetryPolicy:
    """Read ``retry=`` given as a RetryPolicy, a dict of its fields, or a number of attempts."""
    base = base or RetryPolicy()
    if value is None:
        return base
    if isinstance(value, RetryPolicy):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, Mapping)):
        raise ConfigurationError(f"retry: expected a dict, a RetryPolicy or a number of attempts, got {value!r}")
    if isinstance(value, int):
        value = {"attempts": value}
    reject_unknown("retry", value, RetryPolicy.__dataclass_fields__)
    policy = replace(base, **value)
    return _check_retry(policy)


def stored_max_attempts(attempts: int) -> int | None:
    """The ``maxAttempts`` a new job of a task with these ``retry.attempts`` stores: None (no field) when they
    have no bound."""
    return None if attempts >= UNBOUNDED_ATTEMPTS else attempts


def _check_retry(policy: RetryPolicy) -> RetryPolicy:
    if not isinstance(policy.attempts, int) or policy.attempts < 1:
        raise ConfigurationError(f"retry.attempts: must be an integer >= 1, got {policy.attempts!r}")
    if not callable(policy.backoff) and policy.backoff not in BACKOFF_STRATEGIES:
        raise ConfigurationError(
            f"retry.backoff: must be one of {', '.join(BACKOFF_STRATEGIES)} or a function, got {policy.backoff!r}"
        )
    delay = to_seconds(policy.delay, name="retry.delay")
    max_delay = None if policy.max_delay is None else to_seconds(policy.max_delay, name="retry.max_delay")
    return replace(
        policy,
        delay=delay,
        max_delay=max_delay,
        retry_on=_exception_tuple(policy.retry_on, "retry_on"),
        no_retry_on=_exception_tuple(policy.no_retry_on, "no_retry_on"),
    )


def parse_stall(value: StallPolicy | Mapping[str, Any] | None, base: StallPolicy | None = None) -> StallPolicy:
    base = base or StallPolicy()
    if value is None:
        return base
    if isinstance(value, StallPolicy):
        return value
    reject_unknown("stall", value, {"interval", "max_count", "max_lost"})
    interval = to_seconds(value.get("interval", base.interval), name="stall.interval")
    max_count = value.get("max_count", base.max_count)
    if interval <= 0 or not isinstance(max_count, int) or max_count < 0:
        raise ConfigurationError(f"stall: interval must be > 0 and max_count an integer >= 0, got {dict(value)}")
    max_lost = value.get("max_lost", base.max_lost)
    if max_lost is not None and (not isinstance(max_lost, int) or isinstance(max_lost, bool) or max_lost < 0):
        raise ConfigurationError(f"stall: max_lost must be None or an integer >= 0, got {max_lost!r}")
    return StallPolicy(interval=interval, max_count=max_count, max_lost=max_lost)


def parse_retention(value: Retention | Mapping[str, Any] | None) -> Retention:
    """Read ``retention={"completed": {"max_age": "1h", "max_items": 100}, "failed": {...}}``."""
    if value is None:
        return Retention()
    if isinstance(value, Retention):
        return value
    reject_unknown("retention", value, {"completed", "failed"})
    base = Retention()
    completed = value.get("completed") or {}
    failed = value.get("failed") or {}
    return Retention(
        completed_age=to_seconds(completed.get("max_age", base.completed_age), name="retention.completed.max_age"),
        completed_count=_count(completed.get("max_items", base.completed_count), "retention.completed.max_items"),
        failed_age=to_seconds(failed.get("max_age", base.failed_age), name="retention.failed.max_age"),
        failed_count=_count(failed.get("max_items", base.failed_count), "retention.failed.max_items"),
    )


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{name}: must be an integer >= 0, got {value!r}")
    return value


TASK_OPTION_NAMES = frozenset(TaskOptions.__dataclass_fields__) - {"extra"}


def build_task_options(
    options: Mapping[str, Any], defaults: TaskOptions | None = None, *, allowed_extra: Sequence[str] = ()
) -> TaskOptions:
    """Validate ``@taskora.task(...)`` keyword options over the app defaults; unknown names fail."""
    base = defaults or TaskOptions()
    unknown = set(options) - TASK_OPTION_NAMES - set(allowed_extra)
    if unknown:
        raise ConfigurationError(
            f"unknown task option(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(TASK_OPTION_NAMES))}"
        )
    from .collect import check_task_options as check_collect_options

    check_collect_options(options)
    values: dict[str, Any] = {}
    extra = {k: v for k, v in options.items() if k in allowed_extra}
    for name, value in options.items():
        if name in extra:
            continue
        values[name] = _parse_option(name, value, base)
    built = replace(base, **values, extra={**base.extra, **extra})
    check_claim_options(built, "task options")
    return built


def _parse_option(name: str, value: Any, base: TaskOptions) -> Any:
    if name == "retry":
        return parse_retry(value, base.retry)
    if name == "stall":
        return parse_stall(value, base.stall)
    if name == "timeout":
        return None if value is None else _positive_seconds(value, "timeout")
    if name in ("concurrency", "version"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name}: must be an integer >= 1, got {value!r}")
        return value
    if name == "priority":
        return check_priority(value)
    if name == "middleware":
        return tuple(value)
    if name == "rate_limit":
        from .rate_limits import parse_rate_limit

        return parse_rate_limit(value)
    if name in CLAIM_OPTIONS:
        return _parse_claim_option(name, value)
    if name == "collect":
        from .collect import parse_collect

        return parse_collect(value)
    if name == "queue":
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"queue: must be a non-empty string, got {value!r}")
        return value
    return value


CLAIM_OPTIONS = frozenset({"concurrency_key", "concurrency_limit", "singleton", "ttl"})


def _parse_claim_option(name: str, value: Any) -> Any:
    """Options the claim enforces: taskora.concurrency and taskora.ttl (None: not set)."""
    if value is None:
        return None if name != "singleton" else False
    if name == "concurrency_key":
        return check_key(value, "task options", allow_callable=True)
    if name == "concurrency_limit":
        return check_limit(value, "task options")
    if name == "singleton":
        return check_singleton(value, "task options")
    return parse_ttl(value, "task options")


def _positive_seconds(value: Any, name: str) -> float:
    """A limit of 0 s would fail every run at once; None (not 0) is how a task has no limit."""
    seconds = to_seconds(value, name=name)
    if seconds <= 0:
        raise ConfigurationError(f"{name}: must be more than 0 seconds (None for no limit), got {value!r}")
    return seconds


def check_priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
        raise ConfigurationError(f"priority: must be an integer from -1000 to 1000 (higher runs first, 0 the default), "
                                 f"got {value!r}")
    return value
