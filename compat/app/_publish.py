"""Publishing one Celery call as a taskora job (``apply_async`` / ``send_task``).

Precedence of options is Celery's: explicit call options > the task's attributes > ``task_routes``
> ``task_default_queue`` (celery-surface §15.17). ``countdown`` beats ``eta``; a naive ``eta`` is read
in the app's timezone; ``expires`` becomes the job's TTL (an expired job ends REVOKED). Arguments
that the serializer cannot encode raise ``EncodeError`` before anything is written (after
``before_task_publish``, as in Celery, where kombu serializes as it publishes).
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from taskora.durations import MAX_SECONDS
from taskora.errors import BrokerUnreachableError, ConfigurationError, OptionTypeError, SerializationError
from taskora.ids import random_uuid

from .._children import note_child
from .._publish_listeners import publish_listened
from .._state import get_current_task
from ..exceptions import EncodeError, OperationalError
from ..result import AsyncResult
from ..signals import after_task_publish, before_task_publish
from . import _execute, _unknown
from ._properties import message_properties, properties_to_keep
from ._publish_compact import call_data, compact_meta
from ._publish_plan import TASK_PUBLISH_DEFAULTS, PublishPlan, plan_for
from ._publish_settings import publish_setting
from ._times import as_utc, seconds_until
from .task import settings_of

__all__ = ["publish", "native_priority", "broker_errors", "send_on_commit"]

DEFAULT_PRIORITY_STEPS = (0, 3, 6, 9)
#: taskora's dispatch-time flow control, passed to the native dispatch as given (docs/guide/flow-control.md).
FLOW_OPTIONS = ("debounce", "throttle", "deduplicate", "throw_on_reject")
#: Job-hash fields of a job's own time limits (see :func:`_limit_fields`).
JOB_SOFT_FIELD = "softTimeLimit"
JOB_HARD_FIELD = "timeLimit"


def native_priority(priority: Any, steps: Any = None) -> int:
    """Celery's Redis priority (0 highest, None = 0, grouped in steps) → taskora's (higher first): the step,
    negated. The default step is native 0, the engine's FIFO list (the cheapest to store and claim), and every
    other step is below 0, which the engine claims after that list, lowest last."""
    if priority is None and steps is None:  # most calls: 0, in the default steps' first, the highest
        return 0
    value = 0 if priority is None else max(0, min(9, int(priority)))
    step = max((s for s in (steps or DEFAULT_PRIORITY_STEPS) if s <= value), default=0)
    return -int(step)


def _task_defaults(app: Any, task: Any) -> dict[str, Any]:
    """The task's publish options: its attributes, a None one read from its ``task_*`` setting (``resolved``,
    inlined: every publish reads eight of them)."""
    if task is None:
        return {}
    values = {}
    from_config = settings_of(task.from_config)
    conf = None
    for attr in TASK_PUBLISH_DEFAULTS:
        value = getattr(task, attr, None)
        if value is None and attr in from_config:
            setting = from_config[attr]
            if setting is not None:
                conf = conf if conf is not None else task._get_app().conf
                value = publish_setting(conf, setting)
        if value is not None:
            values[attr] = value
    return values


def _timing(app: Any, options: dict[str, Any]) -> tuple[float, float | None, str | None, str | None]:
    """(delay s, ttl s, eta ISO, expires ISO) from countdown/eta/expires."""
    countdown, eta, expires = options.get("countdown"), options.get("eta"), options.get("expires")
    if countdown is None and eta is None and expires is None:  # most calls: no clock, no timezone to resolve
        return 0.0, None, None, None
    now = datetime.now(tz=timezone.utc)
    tz = app.timezone
    delay = float(countdown) if countdown is not None else (seconds_until(eta, now, tz) if eta is not None else 0.0)
    delay = max(0.0, delay)
    eta_iso = (now.timestamp() + delay) if (countdown is not None or eta is not None) else None
    ttl = exp_iso = None
    if expires is not None:
        remaining = seconds_until(expires, now, tz)
        exp_iso = datetime.fromtimestamp(now.timestamp() + remaining, tz=timezone.utc).isoformat()
        ttl = max(0.001, remaining - delay)
    eta_text = datetime.fromtimestamp(eta_iso, tz=timezone.utc).isoformat() if eta_iso is not None else None
    if isinstance(eta, datetime) and countdown is None:  # the ETA as sent, to the microsecond (Celery's header)
        eta_text = as_utc(eta, tz).isoformat()
    return delay, ttl, eta_text, exp_iso


def _check_limits(options: dict[str, Any], name: str) -> None:
    for key in ("soft_time_limit", "time_limit"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ValueError(f"{key} for task {name} must be a positive number of seconds, got {value!r}")
    soft, hard = options.get("soft_time_limit"), options.get("time_limit")
    if soft is not None and hard is not None and float(soft) > float(hard):
        raise ValueError(f"soft_time_limit must be less than or equal to time_limit for task {name} "
                         f"(got soft={soft}, hard={hard})")


def check_call_options(options: dict[str, Any], name: str) -> None:
    """Refuse a ``countdown``/``eta``/``expires``/``priority`` that cannot be a job, naming the option and the value.

    Celery raises a bare TypeError/ValueError/OverflowError (or ships the bad value to the worker); here the
    error is a ``ConfigurationError`` (a ValueError), or ``OptionTypeError`` (also a TypeError) for a value of
    the wrong type, raised before anything is published.
    """
    where = f"apply_async of task {name}"
    if options.get("countdown") is not None:
        _check_seconds(options["countdown"], "countdown", where)
    for key in ("eta", "expires"):
        if options.get(key) is not None:
            _check_when(options[key], key, where)
    if options.get("priority") is not None:
        _check_priority(options["priority"], where)


def check_call_shape(explicit: dict[str, Any], task_id: Any, link: Any, link_error: Any, name: str) -> None:
    """Refuse options of a type the publish cannot use (``queue=5``, ``headers="x"``, ``task_id=5``...), naming
    them, before routing or writing anything; Celery fails later and less clearly, or ships them as they are."""
    where = f"apply_async of task {name}"
    queue = explicit.get("queue")
    if queue is not None and not isinstance(getattr(queue, "name", queue), str):
        _wrong_type(where, "queue", queue, "a queue name or a kombu Queue")
    if not isinstance(explicit.get("headers", {}), dict):
        _wrong_type(where, "headers", explicit["headers"], "a dict")
    retries = explicit.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        _wrong_type(where, "retries", retries, "an integer >= 0")
    if task_id is not None and not isinstance(task_id, str):
        _wrong_type(where, "task_id", task_id, "a string")
    for key, value in (("link", link), ("link_error", link_error)):
        items = value if isinstance(value, (list, tuple)) else [value] if value else []
        if not all(isinstance(item, dict) for item in items):
            _wrong_type(where, key, value, "a signature or a list of signatures")


def _wrong_type(where: str, key: str, value: Any, expected: str) -> None:
    raise OptionTypeError(f"{where}: {key} must be {expected}, got {type(value).__name__} ({_show(value)})")


def _check_seconds(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OptionTypeError(f"{where}: {key} must be a number of seconds, got {type(value).__name__} "
                              f"({_show(value)})")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = float("inf")
    if seconds != seconds or abs(seconds) > MAX_SECONDS:
        raise ConfigurationError(f"{where}: {key}={_show(value)} is out of range (at most {MAX_SECONDS:.0e} seconds)")
    return seconds


def _check_when(value: Any, key: str, where: str) -> None:
    """``eta``/``expires``: a datetime, an ISO 8601 string, a timedelta or a number of seconds from now."""
    if isinstance(value, timedelta):
        _check_seconds(value.total_seconds(), key, where)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigurationError(f"{where}: {key}={_show(value)} is not an ISO 8601 date and time") from None
        _check_year(parsed, key, where)
    elif isinstance(value, datetime):
        _check_year(value, key, where)
    else:
        _check_seconds(value, key, where)


def _check_year(value: datetime, key: str, where: str) -> None:
    """Year 9999 is the last a datetime holds: one there cannot be moved to UTC or stored as an ISO time."""
    if value.year >= 9999:
        raise ConfigurationError(f"{where}: {key}={value.isoformat()} is out of range (must be before year 9999)")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_priority(value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise OptionTypeError(f"{where}: priority must be an integer from 0 to 9, got {type(value).__name__} "
                              f"({_show(value)})")
    try:
        int(value)
    except ValueError:
        raise ConfigurationError(f"{where}: priority must be an integer from 0 to 9, got {_show(value)}") from None


def publish(app: Any, name: str, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any], *,
            task: Any, task_id: str | None, link: Any, link_error: Any, shadow: str | None,
            producer: Any = None) -> Any:  # fmt: skip
    """Dispatch one call; returns its ``AsyncResult`` at once."""
    explicit = {k: v for k, v in options.items() if v is not None} if options else {}
    if explicit or task_id is not None or link or link_error:  # nothing to check in a bare delay()
        check_call_shape(explicit, task_id, link, link_error, name)
    plan = None if explicit else plan_for(app, task, name, _build_plan)
    if plan is not None and task_id is None and shadow is None and not link and not link_error and _plain(plan, name):
        return _publish_plain(app, plan, name, args, kwargs, producer)
    defaults, merged = _resolved(app, task, name, args, kwargs, explicit, plan)
    task_id = task_id or random_uuid()
    batching = getattr(producer, "batching", False)
    if batching:  # the batch goes out later, at once: an argument that cannot be encoded fails this call now
        app._encode({"args": args, "kwargs": kwargs})
    delay, ttl, eta_iso, expires_iso = _timing(app, merged)
    ids = _execute.parent_ids(task_id)
    headers = dict(merged.get("headers") or {})
    meta = _meta(name, task_id, merged, headers, ids, eta_iso, expires_iso, shadow, link, link_error)
    listened = publish_listened(name)
    if plan is None or listened:
        meta["properties"] = message_properties(task_id, merged)
    if listened:
        body, message_headers = _before_publish(name, args, kwargs, meta, merged, headers, task_id, eta_iso,
                                                expires_iso, shadow)  # fmt: skip
        headers = _with_added_headers(headers, message_headers)  # e.g. a tracer's traceparent
    meta["headers"] = headers or None
    meta["properties"] = (plan.kept_properties if plan is not None and not listened  # the same for every call
                          else properties_to_keep(task_id, merged["queue"], meta["properties"]))
    engine = plan.engine if plan is not None else app._engine_task(task, name, merged["queue"])
    task_ignores = bool(defaults.get("ignore_result")) if task is not None else None
    meta = compact_meta(meta, task_id, engine.name, task_ignores, explicit)  # fields a reader restores (issue #22)
    native = plan.native if plan is not None else app.__taskora_app__
    _unknown.note_sent(native, merged["queue"], engine.name)  # for workers to find unknown names
    data = call_data(_listify(args), kwargs)
    dispatch_options = _dispatch_options(app, task_id, merged, explicit, meta, delay, ttl)
    if batching:
        producer.defer(engine, data, dispatch_options)
    else:  # serializes before anything is sent; a deduplicated call answers with the job holding its key
        task_id = _dispatch(app, engine, data, dispatch_options)
    if listened:
        after_task_publish.send(sender=name, body=body, exchange="", routing_key=merged["queue"],
                                headers=message_headers)
    result = AsyncResult(task_id, app=app, task_name=name, engine_task=engine.name,
                         ignored=bool(merged.get("ignore_result")))
    note_child(result)  # a task sending it has it as a child (compat/_children.py)
    return result


def _before_publish(name: str, args: list[Any], kwargs: dict[str, Any], meta: dict[str, Any],
                    merged: dict[str, Any], headers: dict[str, Any], task_id: str, eta_iso: str | None,
                    expires_iso: str | None, shadow: str | None) -> tuple[tuple[Any, ...], dict[str, Any]]:  # fmt: skip
    """Send ``before_task_publish`` the message as Celery would send it, built only when someone listens (most
    apps have nobody); returns its body and headers, which ``after_task_publish`` gets too."""
    body = (args, kwargs, {"callbacks": meta.get("link"), "errbacks": meta.get("link_error")})
    message_headers = {"lang": "py", "task": name, "id": task_id, "shadow": shadow, "eta": eta_iso,
                       "expires": expires_iso, "retries": merged.get("retries", 0), **headers}
    before_task_publish.send(sender=name, body=body, exchange="", routing_key=merged["queue"],
                             headers=message_headers, properties=meta["properties"], declare=[], retry_policy=None)
    return body, message_headers


def _dispatch_options(app: Any, task_id: str, merged: dict[str, Any], explicit: dict[str, Any],
                      meta: dict[str, Any], delay: float, ttl: float | None) -> dict[str, Any]:  # fmt: skip
    """The engine's options for the call: its timing, id, priority on the engine's scale, Celery fields, flow."""
    steps = (publish_setting(app.conf, "broker_transport_options") or {}).get("priority_steps")
    return {"delay": delay or None, "ttl": ttl, "job_id": task_id,
            "priority": native_priority(merged.get("priority"), steps),
            "meta": {**_execute.meta_fields(meta), **_limit_fields(explicit)},
            **{k: explicit[k] for k in FLOW_OPTIONS if k in explicit}}


def _resolved(app: Any, task: Any, name: str, args: list[Any], kwargs: dict[str, Any], explicit: dict[str, Any],
              plan: PublishPlan | None) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """(the task's publish defaults, the call's routed options): the plan's for a call without options (worked
    out once), else worked out now, checked, naming what is wrong."""
    if plan is not None:
        return plan.defaults, plan.merged
    explicit["queue"] = getattr(explicit.get("queue"), "name", explicit.get("queue"))
    defaults = _task_defaults(app, task)
    merged = app.router.route(name, args, kwargs, explicit, task=task, task_options=defaults)
    _check_limits(merged, name)
    check_call_options(merged, name)
    return defaults, merged


def _plain(plan: PublishPlan, name: str) -> bool:
    """Whether this call (no options, id, shadow nor links) writes the plan's plain fields: no clock to read, no
    task sending it (a parent and root of its own), no publish receiver to build Celery's message for."""
    return plan.timeless and get_current_task() is None and not publish_listened(name)


def _publish_plain(app: Any, plan: PublishPlan, name: str, args: list[Any], kwargs: dict[str, Any],
                   producer: Any) -> Any:  # fmt: skip
    """``publish`` of a plain call: what every other call works out, read from the plan (issue #22). The engine
    mints the job id (one check fewer), except in a batch, which needs it before anything is sent."""
    engine, merged = plan.engine, plan.merged
    _unknown.note_sent(plan.native, merged["queue"], engine.name)
    options = _plain_options(app, plan, name)
    data = call_data(_listify(args), kwargs)
    if getattr(producer, "batching", False):
        app._encode({"args": args, "kwargs": kwargs})  # as publish: an argument that cannot be encoded fails now
        task_id = random_uuid()
        producer.defer(engine, data, {**options, "job_id": task_id})
    else:
        task_id = _dispatch(app, engine, data, options)
    return AsyncResult(task_id, app=app, task_name=name, engine_task=engine.name,
                       ignored=bool(merged.get("ignore_result")))  # no task sends it: no parent to note it on


def _plain_options(app: Any, plan: PublishPlan, name: str) -> dict[str, Any]:
    """The engine's options of the plan's plain calls: the job-hash fields ``publish`` makes for them (its root
    is the job itself, which ``compact_meta`` leaves out: no job id is in them), and the priority unless it is
    the engine task's own. Made at the first call of each process (``origin`` is in the fields), then shared:
    the engine copies what it keeps."""
    origin = _origin()
    if plan.plain_options is None or plan.plain_origin != origin:  # the first call, or a forked child's
        merged, no_id = plan.merged, "-"
        meta = _meta(name, no_id, merged, dict(merged.get("headers") or {}), {"parent_id": None, "root_id": no_id},
                     None, None, None, None, None)
        meta["properties"] = plan.kept_properties
        meta = compact_meta(meta, no_id, plan.engine.name, plan.task_ignores, {})
        options: dict[str, Any] = {"meta": _execute.meta_fields(meta)}
        steps = (publish_setting(app.conf, "broker_transport_options") or {}).get("priority_steps")
        priority = native_priority(merged.get("priority"), steps)
        if priority != plan.engine.options.priority:
            options["priority"] = priority
        plan.plain_options, plan.plain_origin = options, origin
    return plan.plain_options


def _build_plan(app: Any, task: Any, name: str, version: int, attributes: tuple[Any, ...]) -> PublishPlan:
    """Work out a call of ``task`` without options as ``publish`` does (raising its errors) and keep the parts
    that do not depend on the call (compat/app/_publish_plan.py)."""
    defaults = _task_defaults(app, task)
    merged = app.router.route(name, (), {}, {"queue": None}, task=task, task_options=defaults)
    _check_limits(merged, name)
    check_call_options(merged, name)
    engine = app._engine_task(task, name, merged["queue"])
    kept = properties_to_keep("", merged["queue"], message_properties("", merged))  # the id drops out
    return PublishPlan(app, name, version, attributes, defaults=defaults, merged=merged, engine=engine,
                       kept_properties=kept)


def _dispatch(app: Any, engine: Any, data: Any, options: dict[str, Any]) -> Any:
    """``engine.dispatch``'s job id, with the errors of ``broker_errors`` and ``encode_errors`` (one ``try``
    instead of two generator context managers on every publish)."""
    try:
        return engine.dispatch(data, **options).id
    except OperationalError:
        raise
    except SerializationError as exc:
        raise EncodeError(str(exc)) from exc
    except (BrokerUnreachableError, RedisConnectionError, RedisTimeoutError) as exc:
        raise _operational(app, exc) from exc


def _operational(app: Any, exc: Exception) -> OperationalError:
    """kombu's ``OperationalError`` for an unreachable broker, naming the address, as Celery's publish raises."""
    address = getattr(app.__taskora_app__.adapter, "address", None) or "the configured broker_url"
    return OperationalError(f"Error connecting to the broker at {address}: {exc}")


#: Headers the front writes itself; any other a ``before_task_publish`` receiver adds travels with the job.
_PROTOCOL_HEADERS = frozenset({"lang", "task", "id", "shadow", "eta", "expires", "retries"})


def _with_added_headers(headers: dict[str, Any], message_headers: dict[str, Any]) -> dict[str, Any]:
    """``headers`` plus what ``before_task_publish`` receivers added to the message's (Celery sends those)."""
    added = {k: v for k, v in message_headers.items() if k not in _PROTOCOL_HEADERS and k not in headers}
    return {**headers, **added} if added else headers


@contextmanager
def broker_errors(app: Any) -> Iterator[None]:
    """An unreachable broker raises kombu's ``OperationalError`` naming the address, as Celery's publish does."""
    try:
        yield
    except OperationalError:
        raise
    except (BrokerUnreachableError, RedisConnectionError, RedisTimeoutError) as exc:
        raise _operational(app, exc) from exc


@contextmanager
def encode_errors() -> Iterator[None]:
    """Arguments the serializer refuses raise kombu's ``EncodeError``, as Celery's publish does."""
    try:
        yield
    except SerializationError as exc:
        raise EncodeError(str(exc)) from exc


def _limit_fields(explicit: dict[str, Any]) -> dict[str, str]:
    """Limits given to this call as the job-hash fields a worker reads over the task's own limits.

    The names are ``taskora.worker.limits.JOB_SOFT_FIELD``/``JOB_HARD_FIELD`` (compat does not import
    the worker package; a test pins that they match).
    """
    fields = {}
    for option, field in (("soft_time_limit", JOB_SOFT_FIELD), ("time_limit", JOB_HARD_FIELD)):
        value = explicit.get(option)
        if value is not None:
            fields[field] = repr(float(value))
    return fields


def _listify(args: list[Any]) -> list[Any]:
    return [list(a) if isinstance(a, tuple) and not hasattr(a, "_fields") else a for a in args]


def _meta(name: str, task_id: str, merged: dict[str, Any], headers: dict[str, Any], ids: dict[str, Any],
          eta: str | None, expires: str | None, shadow: str | None, link: Any,
          link_error: Any) -> dict[str, Any]:  # fmt: skip
    timelimit = [merged.get("time_limit"), merged.get("soft_time_limit")]
    return {
        "task": name, "queue": merged["queue"], "headers": headers or None,
        "root_id": merged.get("root_id") or ids["root_id"], "parent_id": merged.get("parent_id") or ids["parent_id"],
        "group": merged.get("group_id"), "group_index": merged.get("group_index"), "eta": eta,
        "expires": expires, "shadow": shadow, "ignore_result": merged.get("ignore_result"),
        "priority": merged.get("priority"), "origin": _origin(),
        "timelimit": timelimit if any(v is not None for v in timelimit) else None,
        "link": _sigs(link), "link_error": _sigs(link_error),
        "argsrepr": merged.get("argsrepr"), "kwargsrepr": merged.get("kwargsrepr"),  # the log lines' (trace.py)
    }  # fmt: skip


_ORIGIN: tuple[int, str] = (0, "")


def _origin() -> str:
    """Celery's ``origin`` header, ``gen<pid>@<host>``: made once per process (a forked child makes its own)."""
    global _ORIGIN
    pid = os.getpid()
    if _ORIGIN[0] != pid:
        _ORIGIN = (pid, f"gen{pid}@{socket.gethostname()}")
    return _ORIGIN[1]


def _sigs(value: Any) -> list[Any] | None:
    if not value:
        return None
    return [dict(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def send_on_commit(send: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Call ``send(*args, **kwargs)`` through Django's ``transaction.on_commit`` (``DjangoTask.delay_on_commit``):
    after the commit of the current transaction, at once in autocommit, never after a rollback."""
    from django.db import transaction  # only DjangoTask, under Django, calls this

    transaction.on_commit(functools.partial(send, *args, **kwargs))
