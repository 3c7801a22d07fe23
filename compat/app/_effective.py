"""The settings taskora acts on (``conf.effective()``): env overrides applied, durations in seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ...sysinfo import is_auto_concurrency
from ..exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .config import Settings

__all__ = ["EffectiveSettings", "resolve", "result_retention"]

#: How long "never expire" keeps a finished job: the engine's retention takes a finite age (100 years).
_FOREVER_S = 100 * 365 * 86400.0
#: Count limit of the retention: Celery keeps any number of results, bounded by age only.
_ANY_NUMBER = 10**9

_VT = "broker_transport_options['visibility_timeout']"

#: ``broker_transport_options`` keys that tune the Redis connection; kombu hands them to redis-py as they are,
#: and so does taskora. The value each must have: seconds, a count, a flag, a mapping or a name.
CONNECTION_OPTIONS = {"socket_timeout": "seconds", "socket_connect_timeout": "seconds",
                      "health_check_interval": "seconds", "max_connections": "count", "socket_keepalive": "flag",
                      "socket_keepalive_options": "mapping", "client_name": "name"}


@dataclass(frozen=True)
class EffectiveSettings:
    """The settings taskora must convert before acting on them, as plain values: environment
    overrides applied, durations in seconds. Settings used as they are (serializer names, booleans
    such as ``task_acks_late``) are read from ``conf`` directly."""

    broker_url: str | None
    result_backend: str | None
    timezone: str | None  # IANA name; None = local time (enable_utc=False and no timezone)
    accept_content: tuple[str, ...]
    task_default_queue: str
    task_default_priority: int | None  # Celery's Redis scale: 0 is the highest
    task_time_limit: float | None
    task_soft_time_limit: float | None
    result_expires: float | None  # None = keep forever (Celery's None or 0)
    #: ``broker_transport_options['visibility_timeout']`` (Redis default 3600 s): how long a claimed
    #: job may go unacknowledged before another worker gets it, i.e. taskora's stall/lock window.
    visibility_timeout: float
    key_prefix: str  # broker_transport_options['global_keyprefix']
    #: redis-py options from ``broker_transport_options`` (``CONNECTION_OPTIONS``) and a ``broker_use_ssl``
    #: mapping (``ssl_cert_reqs``, ``ssl_ca_certs``, ...).
    connection_options: dict[str, Any]
    worker_concurrency: int | str | None  # a number, or "auto" (the CPU budget: taskora/worker/auto_concurrency.py)
    worker_max_tasks_per_child: int | None
    worker_max_memory_per_child: int | None  # KiB, as Celery counts it
    include: tuple[str, ...]  # `imports` then `include`: modules the worker imports at start
    #: ``result_failure_expires``: how long a failed task's result is kept (None: as ``result_expires``).
    result_failure_expires: float | None = None


def _seconds(value: Any, setting: str) -> float | None:
    """A duration setting in seconds (number or timedelta); anything else names the setting."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{setting} must be a number of seconds or a timedelta, got {value!r}") from None


def _names(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _concurrency(value: Any) -> int | str | None:
    """``worker_concurrency``: ``"auto"`` kept (the worker sizes the pool from the CPU budget), else a number."""
    return "auto" if is_auto_concurrency(value) else _int(value)


def _connection_options(transport: dict[str, Any], use_ssl: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, kind in CONNECTION_OPTIONS.items():
        value = transport.get(key)
        if value is None:
            continue
        setting = f"broker_transport_options[{key!r}]"
        if kind == "seconds":
            try:
                seconds = None if isinstance(value, bool) else _seconds(value, setting)
            except ImproperlyConfigured:
                seconds = None
            if not seconds or seconds <= 0:
                raise ImproperlyConfigured(f"{setting} must be a positive number of seconds, got {value!r}")
            value = seconds
        elif kind == "count" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ImproperlyConfigured(f"{setting} must be a positive whole number, got {value!r}")
        elif kind == "flag" and not isinstance(value, bool):
            raise ImproperlyConfigured(f"{setting} must be True or False, got {value!r}")
        elif kind == "mapping" and not isinstance(value, dict):
            raise ImproperlyConfigured(f"{setting} must be a dict of socket options, got {value!r}")
        elif kind == "name" and not isinstance(value, str):
            raise ImproperlyConfigured(f"{setting} must be a string, got {value!r}")
        options[key] = value
    if isinstance(use_ssl, dict):
        options.update(use_ssl)
    elif use_ssl:  # True: redis-py's own defaults, named so a sentinel:// broker reaches its master over TLS too
        options["ssl_cert_reqs"] = "required"
    return options


def _broker_url(conf: Settings) -> str | None:
    """``broker_url``, on TLS when ``broker_use_ssl`` asks for it (as kombu's Redis transport does)."""
    url = conf.broker_url
    if url and conf.get("broker_use_ssl") and url.startswith("redis://"):
        return "rediss://" + url[len("redis://"):]
    return url


def resolve(conf: Settings) -> EffectiveSettings:
    transport = conf.get("broker_transport_options") or {}
    return EffectiveSettings(
        broker_url=_broker_url(conf),
        result_backend=conf.result_backend,
        timezone=effective_timezone(conf),
        accept_content=_names(conf.get("accept_content")),
        task_default_queue=conf.get("task_default_queue") or "celery",
        task_default_priority=_int(conf.get("task_default_priority")),
        task_time_limit=_seconds(conf.get("task_time_limit"), "task_time_limit"),
        task_soft_time_limit=_seconds(conf.get("task_soft_time_limit"), "task_soft_time_limit"),
        result_expires=_seconds(conf.get("result_expires"), "result_expires") or None,
        visibility_timeout=_seconds(transport.get("visibility_timeout"), _VT) or 3600.0,
        key_prefix=str(transport.get("global_keyprefix") or ""),
        connection_options=_connection_options(transport, conf.get("broker_use_ssl")),
        worker_concurrency=_concurrency(conf.get("worker_concurrency")),
        worker_max_tasks_per_child=_int(conf.get("worker_max_tasks_per_child")),
        worker_max_memory_per_child=_int(conf.get("worker_max_memory_per_child")),
        include=_names(conf.get("imports")) + _names(conf.get("include")),
        result_failure_expires=_seconds(conf.get("result_failure_expires"), "result_failure_expires"),
    )


def effective_timezone(conf: Any) -> str | None:
    """The app's IANA zone: ``timezone``, else UTC under ``enable_utc``, else None (local time).

    Kept separate from :func:`resolve` because publishing asks for it on every call (naive ``eta``).
    """
    return conf.timezone or ("UTC" if conf.get("enable_utc") else None)


def result_retention(effective: EffectiveSettings) -> dict[str, Any]:
    """The engine's retention for Celery's ``result_expires``: a finished job (its result) is kept that long,
    whatever its outcome, as Celery's result backend expires SUCCESS and FAILURE alike (unless
    ``result_failure_expires`` keeps failures a time of their own, as Celery 5.7's Redis backend does);
    ``None``/``0`` keep results forever. Without this the engine's own defaults (1 h / 100 completed jobs)
    would apply."""
    age = effective.result_expires or _FOREVER_S
    failed_age = age if effective.result_failure_expires is None else (effective.result_failure_expires or _FOREVER_S)
    return {"completed": {"max_age": age, "max_items": _ANY_NUMBER},
            "failed": {"max_age": failed_age, "max_items": _ANY_NUMBER}}
