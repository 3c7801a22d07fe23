"""Collect (batching): each dispatch appends an item to a buffer in Redis, and one job takes the whole buffer.

The buffer, its flush timer and the drain are engine scripts (lua/lib/collect.lua), not Python state, so any
number of producers (Python or TypeScript) share one buffer per key, and an item is always in exactly one
place: the buffer, or the data of the one batch job that took it. A batch is a normal job from then on:
a retry or a stall recovery re-runs it with the same items.

Three triggers flush a buffer, whichever comes first (seeds: features/batch-processing):
``delay`` after the last item (reset by every item), ``max_size`` items (at once, in the push),
``max_wait`` after the buffer's first item (never reset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .adapters.base import CollectPush
from .clock import TimedWork, register_timed_work
from .durations import to_ms
from .errors import ConfigurationError, TaskoraError, reject_unknown
from .handles import ResultHandle
from .ids import random_uuid

if TYPE_CHECKING:
    from .app import Taskora
    from .task import Task

#: The keys of ``collect={...}``.
COLLECT_FIELDS = frozenset({"key", "delay", "max_size", "max_wait"})

#: Task options a collect task cannot have, and why (named in the error).
EXCLUDED_TASK_OPTIONS = {
    "debounce": "collect already debounces by its delay",
    "throttle": "a pushed item is not a job to throttle",
    "deduplicate": "a pushed item is not a job to deduplicate",
    "schedule": "a schedule dispatches jobs with ids of their own",
    "priority": "batch jobs always run at priority 0 (as TypeScript taskora writes them)",
}


@dataclass(frozen=True)
class CollectConfig:
    """A task's ``collect`` option, checked: durations in ms, 0 for a trigger that is not used."""

    key: str | Callable[[Any], str]
    delay_ms: int
    max_size: int = 0
    max_wait_ms: int = 0

    def key_for(self, data: Any, task_name: str) -> str:
        """The buffer an item goes to: the fixed key, or the key function applied to the item."""
        key = self.key(data) if callable(self.key) else self.key
        return check_key(key, f"{task_name}: collect key (from the key function)")


@dataclass(frozen=True)
class CollectBufferInfo:
    """A buffer's stats without its items (TypeScript's ``CollectBufferInfo``); times are epoch ms."""

    count: int
    oldest_at: int
    newest_at: int


def check_key(key: Any, where: str) -> str:
    if not isinstance(key, str) or not key:
        raise ConfigurationError(f"{where}: must be a non-empty string, got {key!r}")
    return key


def parse_collect(value: Any) -> CollectConfig | None:
    """Read ``collect={"key": ..., "delay": "500ms", "max_size": 100, "max_wait": "10s"}``."""
    if value is None or isinstance(value, CollectConfig):
        return value
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"collect: expected a dict with key, delay, max_size, max_wait, got {value!r}")
    reject_unknown("collect", value, COLLECT_FIELDS)
    if "key" not in value or "delay" not in value:
        raise ConfigurationError(f"collect: key and delay are required, got {dict(value)}")
    key = value["key"]
    if not callable(key):
        check_key(key, "collect.key")
    delay_ms = to_ms(value["delay"], name="collect.delay")
    if delay_ms <= 0:
        raise ConfigurationError(f"collect.delay: must be more than 0, got {value['delay']!r}")
    return CollectConfig(key=key, delay_ms=delay_ms, max_size=_max_size(value.get("max_size")),
                         max_wait_ms=_max_wait_ms(value.get("max_wait")))


def _max_size(value: Any) -> int:
    """``max_size`` as the engine takes it: 0 when left out."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"collect.max_size: must be an integer >= 1 (or left out), got {value!r}")
    return value


def _max_wait_ms(value: Any) -> int:
    """``max_wait`` in ms as the engine takes it: 0 when left out."""
    if value is None:
        return 0
    ms = to_ms(value, name="collect.max_wait")
    if ms <= 0:
        raise ConfigurationError(f"collect.max_wait: must be more than 0 (or left out), got {value!r}")
    return ms


def check_task_options(options: Mapping[str, Any]) -> None:
    """At declaration: refuse the options a collect task cannot have, naming each one."""
    if options.get("collect") is None:
        return
    for name, why in EXCLUDED_TASK_OPTIONS.items():
        if name in options and options[name] not in (None, 0):
            raise ConfigurationError(f"collect cannot be combined with {name}: {why}")


def check_serializer(task_name: str, serializer: Any) -> None:
    """Items are joined into a JSON array inside Redis, so a collect task needs the JSON serializer."""
    name = getattr(serializer, "name", serializer)
    if name != "json":
        raise ConfigurationError(f"task {task_name!r}: collect needs the json serializer (the buffer is joined "
                                 f"into a JSON array in Redis), the app uses {name!r}")


def push(task: Task[Any, Any], data: Any, options: Mapping[str, Any]) -> ResultHandle[Any]:
    """Append ``data`` to its buffer. The handle names the job this push flushed into or armed as the timer;
    a later push may replace a timer, so it confirms the push and tracks no per-item result."""
    if options:
        raise ConfigurationError(f"{task.name}.dispatch: a collect task takes no dispatch options, got "
                                 f"{', '.join(sorted(options))} (an item is not a job)")
    config = task.options.collect
    assert config is not None  # only called for collect tasks
    request = CollectPush(task=task.name, id=random_uuid(), item=_dumps(task, data),
                          key=config.key_for(data, task.name), delay_ms=config.delay_ms,
                          max_size=config.max_size, max_wait_ms=config.max_wait_ms,
                          version=task.options.version, max_attempts=task.options.retry.attempts)
    task.app.adapter.collect_push(request)
    return ResultHandle(task.app, task.name, request.id, enqueued=True, created=True)


def _dumps(task: Task[Any, Any], data: Any) -> str:
    """The item as JSON text (a kombu json serializer gives UTF-8 bytes)."""
    text = task.app.serializer.dumps(data)
    return text if isinstance(text, str) else text.decode("utf-8")


def peek(task: Task[Any, Any], key: str) -> list[Any]:
    """The buffered items of ``key``, oldest first, without draining or touching the timers."""
    _require_collect(task, "peek_collect")
    items = []
    for raw in task.app.adapter.collect_items(task.name, check_key(key, f"{task.name}.peek_collect: key")):
        try:
            items.append(task.app.serializer.loads(raw))
        except (ValueError, TaskoraError):  # one unreadable item must not hide the others (as in TypeScript)
            continue
    return items


def inspect(task: Task[Any, Any], key: str) -> CollectBufferInfo | None:
    """Count and first/last push times of the buffer of ``key``; None when it holds nothing."""
    _require_collect(task, "inspect_collect")
    meta = task.app.adapter.collect_meta(task.name, check_key(key, f"{task.name}.inspect_collect: key"))
    if not meta:
        return None
    return CollectBufferInfo(count=int(meta.get("count", 0)), oldest_at=int(meta.get("firstAt", 0)),
                             newest_at=int(meta.get("lastAt", 0)))


def _require_collect(task: Task[Any, Any], method: str) -> None:
    if task.options.collect is None:
        raise ConfigurationError(f"{task.name}.{method}: task {task.name!r} has no collect option")


def flush(app: Taskora, task_name: str, key: str | None = None) -> int:
    """Force ``task_name``'s buffer of ``key`` (None: every buffer) out now, each as a waiting batch job, as
    ``max_size`` would; returns how many batch jobs that made (0 for a task without collect)."""
    task = app.tasks.get(task_name)
    if task is None or task.options.collect is None:
        return 0
    keys = app.adapter.collect_buffers(task_name) if key is None else [check_key(key, f"{task_name}.flush: key")]
    made = 0
    for buffer in keys:
        taken = app.adapter.collect_flush(task_name, buffer, random_uuid(), task.options.version,
                                          task.options.retry.attempts)
        made += taken > 0
    return made


def _no_extra_moment(app: Taskora) -> int | None:
    """A buffer's flush timer is a delayed job, which virtual time and workers already see; nothing more."""
    return None


def _nothing_to_run(app: Taskora) -> int:
    """The claim fires a due flush timer (lua/lib/collect.lua drains the buffer into it)."""
    return 0


#: How TestRunner.flush (and advance_time, through the delayed set) reaches collect buffers (taskora/clock.py).
TIMED_WORK = register_timed_work(TimedWork("collect", next_due=_no_extra_moment, run_due=_nothing_to_run,
                                           flush=flush))
