"""What a running ``taskora worker`` changes in place when told over the control channel (Celery's control
commands ``pool_grow``, ``pool_shrink``, ``autoscale``, ``add_consumer``, ``cancel_consumer``, ``time_limit``).

Replies are Celery's: ``{"ok": ...}`` or ``{"error": ...}``. The threads pools change in this process; a prefork
supervisor grows and shrinks its children directly, and for a change to what children run (their tasks, their
time limits) it starts fresh children with the new settings and drains the old ones warm (as SIGHUP does), so
jobs already running keep what they started with and nothing is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .limits import TimeLimits, seconds_or_none
from .resize import slot_delta

if TYPE_CHECKING:
    from ..task import Task
    from .autoscale import Autoscaler
    from .pools import Pool

log = logging.getLogger("taskora.worker.control")

#: The control commands LiveOps answers (method names).
LIVE_COMMANDS = ("pool_grow", "pool_shrink", "autoscale", "add_consumer", "cancel_consumer", "time_limit")


class LiveOps:
    """The live operations of one worker process; ``on_tasks`` is told the task names it serves after a change."""

    def __init__(self, pool: Pool, *, autoscaler: Autoscaler | None = None,
                 on_tasks: Callable[[list[str]], None] | None = None,
                 prepare_queue: Callable[[list[str]], None] | None = None) -> None:  # fmt: skip
        self.pool = pool
        #: A front-end's step before a queue's tasks are chosen (the Celery front registers per-queue twins).
        self._prepare_queue = prepare_queue
        self.settings = pool.settings
        self.autoscaler = autoscaler
        self._on_tasks = on_tasks

    def handle(self, command: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = getattr(self, command)(**args)
        except (ConfigurationError, TypeError) as exc:  # a bad argument: said to the caller, nothing changed
            return {"error": f"{command}: {exc}"}
        return reply

    # -- pool size ------------------------------------------------------------------------------
    def pool_grow(self, n: Any = 1, **_: Any) -> dict[str, Any]:
        count = slot_delta(n, "pool_grow")
        if self.autoscaler is not None:
            return {"error": "pool_grow is not supported with autoscale. Adjust autoscale range instead."}
        size = self.pool.grow(count)
        log.info("%s: pool_grow %d -> %d slot(s)", self.settings.hostname, count, size)
        return {"ok": "pool will grow"}

    def pool_shrink(self, n: Any = 1, **_: Any) -> dict[str, Any]:
        count = slot_delta(n, "pool_shrink")
        if self.autoscaler is not None:
            return {"error": "pool_shrink is not supported with autoscale. Adjust autoscale range instead."}
        size = self.pool.shrink(count)
        log.info("%s: pool_shrink %d -> %d slot(s)", self.settings.hostname, count, size)
        return {"ok": "pool will shrink"}

    def autoscale(self, max: Any = None, min: Any = None, **_: Any) -> dict[str, Any]:  # noqa: A002 - Celery's names
        """Celery's: new autoscale bounds (MIN 0 counts as 1, as ``--autoscale`` does); a worker started without
        ``--autoscale`` answers Celery's error (its ValueError, as kombu replies it)."""
        if self.autoscaler is None:
            return {"error": "ValueError('Autoscale not enabled')"}
        low = _count_or_none(min, "min")
        max_size, min_size = self.autoscaler.update(_count_or_none(max, "max"), None if low is None else low or 1)
        return {"ok": f"autoscale now max={max_size} min={min_size}"}

    # -- queues ---------------------------------------------------------------------------------
    def add_consumer(self, queue: Any = None, **_: Any) -> dict[str, Any]:
        name = _queue_name(queue, "add_consumer")
        s = self.settings
        served = {t.name for t in s.tasks}
        if self._prepare_queue is not None:
            self._prepare_queue([name])
        new = [t for t in s.app.select_tasks(queues=[name]) if t.name not in served]
        if new:
            s.tasks.extend(new)
            s.extra["queues"] = sorted({*s.extra.get("queues", ()), name})
            self._apply_tasks(new, [])
        log.info("%s: consuming from queue %s (%d task(s) added)", s.hostname, name, len(new))
        return {"ok": f"add consumer {name}"}

    def cancel_consumer(self, queue: Any = None, **_: Any) -> dict[str, Any]:
        name = _queue_name(queue, "cancel_consumer")
        s = self.settings
        leaving = [t for t in s.tasks if t.options.queue == name]
        if leaving:
            s.tasks[:] = [t for t in s.tasks if t.options.queue != name]
            s.extra["queues"] = [q for q in s.extra.get("queues", ()) if q != name]
            self._apply_tasks([], leaving)
        log.info("%s: no longer consuming from queue %s (%d task(s) dropped)", s.hostname, name, len(leaving))
        return {"ok": f"no longer consuming from {name}"}

    def _apply_tasks(self, added: list[Task[Any, Any]], dropped: list[Task[Any, Any]]) -> None:
        self.pool.change_tasks(added, dropped)
        if self._on_tasks is not None:
            self._on_tasks([t.name for t in self.settings.tasks])

    # -- time limits ----------------------------------------------------------------------------
    def time_limit(self, task_name: Any = None, soft: Any = None, hard: Any = None, **_: Any) -> dict[str, Any]:
        """Celery's: the task's limits become ``soft``/``hard`` (None: the worker's default) for jobs started
        from now on; jobs already running keep theirs."""
        names = self._engine_names(task_name)
        if not names:
            log.error("Change time limit attempt for unknown task %s", task_name)
            return {"error": "unknown task"}
        limits = TimeLimits(seconds_or_none(soft, f"{task_name}: soft"), seconds_or_none(hard, f"{task_name}: hard"))
        overrides = self.settings.extra.setdefault("time_limits", {})
        for name in names:
            overrides[name] = limits
        self.pool.limits_changed()
        log.info("New time limits for tasks of type %s: soft=%s hard=%s", task_name, limits.soft, limits.hard)
        return {"ok": "time limits set successfully"}

    def _engine_names(self, task_name: Any) -> list[str]:
        """The app's tasks called ``task_name`` (a Celery name also matches its per-queue twins ``queue::name``)."""
        if not isinstance(task_name, str) or not task_name:
            return []
        return [name for name in self.settings.app.tasks
                if name == task_name or name.rpartition("::")[2] == task_name]


def _queue_name(queue: Any, what: str) -> str:
    if not isinstance(queue, str) or not queue.strip():
        raise ConfigurationError(f"needs a queue name, got {queue!r}")
    return queue.strip()


def _count_or_none(value: Any, what: str) -> int | None:
    """An autoscale bound as Celery's CLI sends it (``int``, or its digits); None keeps the current one."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{what} must be a whole number of slots, got {value!r}")
    return value
