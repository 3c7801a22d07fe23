"""Per-key concurrency: at most N jobs with the same key active at once, across every worker and
process, Python or TypeScript.

A job carries ``concurrencyKey``/``concurrencyLimit`` (the TypeScript taskora's fields); the claim
script counts each key's active jobs in ``conc:<key>`` and skips a job whose key is full
(lua/lib/concurrency.lua); every way out of active frees the slot, the stall sweep's too.

``singleton=True`` is the limit 1 on one task-wide key: one job of the task runs at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .app import Taskora
    from .options import TaskOptions
    from .task import Task

#: The key every job of a ``singleton=True`` task shares (one slot for the whole task).
SINGLETON_KEY = "__singleton__"
#: Dispatch options this module reads.
DISPATCH_OPTIONS = frozenset({"concurrency_key", "concurrency_limit"})

KeySource = str | Callable[[Any], str]


def check_limit(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{where}: concurrency_limit must be an integer >= 1, got {value!r}")
    return value


def check_key(value: Any, where: str, *, allow_callable: bool) -> KeySource:
    if isinstance(value, str) and value:
        return value
    if allow_callable and callable(value):
        return value  # type: ignore[no-any-return]
    kinds = "a non-empty string or a function of the job's data" if allow_callable else "a non-empty string"
    raise ConfigurationError(f"{where}: concurrency_key must be {kinds}, got {value!r}")


def check_singleton(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where}: singleton must be True or False, got {value!r}")
    return value


def check_task_options(options: TaskOptions, where: str) -> None:
    """Combinations a task declaration may not make (each option alone was checked already)."""
    if options.singleton and options.concurrency_key is not None:
        raise ConfigurationError(f"{where}: singleton and concurrency_key exclude each other "
                                 "(singleton is concurrency_limit=1 on one task-wide key)")
    if options.singleton and options.concurrency_limit not in (None, 1):
        raise ConfigurationError(f"{where}: singleton runs one job at a time; "
                                 f"concurrency_limit={options.concurrency_limit} contradicts it")


def job_fields(options: TaskOptions, data: Any, given: Mapping[str, Any], where: str) -> dict[str, str]:
    """The job's ``concurrencyKey``/``concurrencyLimit`` from the dispatch's options over the task's."""
    key, limit = _dispatch_key(options, given, where), given.get("concurrency_limit")
    if limit is not None:
        check_limit(limit, where)
    if key is None:
        key = _task_key(options, data, where)
    if key is None:
        if limit is not None:
            raise ConfigurationError(f"{where}: concurrency_limit needs a concurrency_key "
                                     "(on this dispatch or on the task)")
        return {}
    limit = limit or (1 if options.singleton else options.concurrency_limit) or 1
    return {"concurrencyKey": key, "concurrencyLimit": str(limit)}


def _dispatch_key(options: TaskOptions, given: Mapping[str, Any], where: str) -> str | None:
    value = given.get("concurrency_key")
    if value is None:
        return None
    if options.singleton:
        raise ConfigurationError(f"{where}: concurrency_key cannot be given for a singleton task")
    return str(check_key(value, where, allow_callable=False))


def _task_key(options: TaskOptions, data: Any, where: str) -> str | None:
    if options.singleton:
        return SINGLETON_KEY
    source = options.concurrency_key
    if source is None or isinstance(source, str):
        return source
    try:
        key = source(data)
    except Exception as exc:
        raise ConfigurationError(f"{where}: the concurrency_key function raised {exc!r}") from exc
    if not isinstance(key, str) or not key:
        raise ConfigurationError(f"{where}: the concurrency_key function must return a non-empty string, "
                                 f"got {key!r}")
    return key


def declare_singletons(app: Taskora, tasks: Iterable[Task[Any, Any]]) -> None:
    """Record, as a worker starts for ``tasks``, which of them are ``singleton=True``, for the claim script.

    A job a Python producer dispatches carries the singleton key already; one written by a TypeScript
    producer does not (TypeScript enforces ``singleton`` in its worker, from the task's declaration). With
    the declaration in Redis the claim runs one job of the task at a time whoever produced it. A worker
    whose task is not singleton clears it, so a redeployed task drops the limit.
    """
    for task in tasks:
        app.adapter.declare_singleton(task.name, task.options.singleton)
