"""Celery beat on taskora's leader-elected scheduler.

``install_beat_schedule(celery_app)`` registers the app's ``beat_schedule`` (including entries added
by ``add_periodic_task`` in ``on_after_configure``/``on_after_finalize`` handlers) as a schedule
source of the native app. The scheduler reads it when it starts (``taskora beat -A proj``,
``taskora worker -A proj -B``), after the project's configuration and task modules are loaded, and
stores each entry in ``taskora:schedules``. Entries removed from ``beat_schedule`` disappear from
the store at the next start, as Celery beat's merge does.

Celery's in-process scheduler classes (``Scheduler``, ``PersistentScheduler``, ``ScheduleEntry``,
``Service``) are in ``_beat_scheduler.py`` and exported here, for code that drives or subclasses them.

Celery's behaviour is the default for translated entries: a new entry first fires one interval
after beat starts (a crontab at its next match); runs missed while no beat ran collapse into one
immediate run (``on_missed="skip"``); runs may overlap (Celery beat takes no lock). Each run is sent
with ``send_task(task, args, kwargs, task_id=<run id>, **options)``, so routing applies and a run
re-sent by a new leader is the same job.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from taskora.errors import ConfigurationError, reject_unknown
from taskora.scheduler import MissedRunPolicy, ScheduleConfig

from ._beat_pidbox import BeatPidbox, beat_nodename
from ._beat_scheduler import (
    DEFAULT_MAX_INTERVAL,
    BeatLazyFunc,
    PersistentScheduler,
    ScheduleEntry,
    Scheduler,
    SchedulingError,
    Service,
    event_t,
)
from .schedules import CELERY_ON_MISSED, maybe_schedule

__all__ = ["BeatEntry", "BeatTranslator", "celery_timezone", "install_beat_schedule", "translate_entry",
           "BeatLazyFunc", "DEFAULT_MAX_INTERVAL", "PersistentScheduler", "ScheduleEntry", "Scheduler",
           "SchedulingError", "Service", "event_t", "BeatPidbox", "beat_nodename"]

#: Celery beat's logger: ``Scheduler: Sending due task …`` lines are what people grep for.
beat_log = logging.getLogger("celery.beat")
#: The schedule source name translated entries are stored under (``"source": "celery"``).
SOURCE = "celery"
#: Keys a ``beat_schedule`` entry may have (Celery's ScheduleEntry arguments).
ENTRY_KEYS = frozenset({"task", "schedule", "args", "kwargs", "options", "relative", "name"})


@dataclass
class BeatEntry:
    """One translated entry: the stored config plus the original args/kwargs/options to send with."""

    config: ScheduleConfig
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def _json_safe(value: Any) -> Any:
    """What the stored config shows of args/kwargs/options (``taskora schedules list``); sends use the originals."""
    return json.loads(json.dumps(value, default=str))


def translate_entry(key: str, entry: Any, timezone: str, app: Any = None) -> BeatEntry:
    """One ``beat_schedule`` entry -> a native schedule config; errors name the entry and the field."""
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"beat_schedule[{key!r}]: expected a dict with 'task' and 'schedule', got {entry!r}")
    reject_unknown(f"beat_schedule[{key!r}]", entry, ENTRY_KEYS, noun="key(s)")
    task = entry.get("task")
    if not isinstance(task, str) or not task:
        raise ConfigurationError(f"beat_schedule[{key!r}]: 'task' must be a task name, got {task!r}")
    if entry.get("schedule") is None:
        raise ConfigurationError(f"beat_schedule[{key!r}]: 'schedule' is required (seconds, timedelta, "
                                 "schedule(...) or crontab(...))")
    value = entry["schedule"]
    plain = isinstance(value, (int, float, timedelta)) and not isinstance(value, bool)
    schedule = maybe_schedule(value, bool(entry.get("relative", False)), app=app) if plain else value
    if not callable(getattr(schedule, "to_spec", None)):
        raise ConfigurationError(f"beat_schedule[{key!r}]: schedule {schedule!r} is not supported (use seconds, "
                                 "timedelta, schedule(...) or crontab(...); custom is_due classes cannot be stored)")
    try:
        spec = schedule.to_spec(timezone)
    except (ConfigurationError, NotImplementedError) as exc:
        raise ConfigurationError(f"beat_schedule[{key!r}]: {exc}") from None
    args, kwargs, options = _call_parts(key, entry)
    extra = {"args": _json_safe(list(args)), "kwargs": _json_safe(kwargs), "options": _json_safe(options)}
    on_missed = MissedRunPolicy.parse(CELERY_ON_MISSED)
    config = ScheduleConfig(task=task, spec=spec, on_missed=on_missed, overlap=True, extra=extra)
    return BeatEntry(config, args, kwargs, options)


def _call_parts(key: str, entry: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]:
    args, kwargs, options = entry.get("args") or (), entry.get("kwargs") or {}, entry.get("options") or {}
    if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
        raise ConfigurationError(f"beat_schedule[{key!r}]: 'args' must be a list or tuple, got {args!r}")
    if not isinstance(kwargs, Mapping):
        raise ConfigurationError(f"beat_schedule[{key!r}]: 'kwargs' must be a dict, got {kwargs!r}")
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"beat_schedule[{key!r}]: 'options' must be a dict of apply_async options, "
                                 f"got {options!r}")
    return tuple(args), dict(kwargs), dict(options)


def celery_timezone(app: Any) -> str:
    """The zone beat evaluates crontabs in: ``timezone``, else UTC with ``enable_utc``, else the local zone."""
    conf = getattr(app, "conf", None)
    name = conf.get("timezone") if conf is not None else None
    if name:
        return str(name)
    if conf is None or conf.get("enable_utc", True):
        return "UTC"
    return _local_zone_name()


def _local_zone_name() -> str:
    """The system's IANA zone (``TZ``, ``/etc/timezone``, the ``/etc/localtime`` link), UTC when unknown."""
    if os.environ.get("TZ", "").strip(":"):
        return os.environ["TZ"].strip(":")
    try:
        return Path("/etc/timezone").read_text().strip() or "UTC"
    except OSError:
        pass
    link = Path("/etc/localtime")
    if link.is_symlink() and "zoneinfo/" in str(link.resolve()):
        return str(link.resolve()).split("zoneinfo/", 1)[1]
    return "UTC"


class BeatTranslator:
    """The Celery app's schedule source: reads ``beat_schedule`` when the scheduler starts, sends runs."""

    def __init__(self, celery_app: Any) -> None:
        self.app = celery_app
        self.entries: dict[str, BeatEntry] = {}

    def declarations(self) -> dict[str, ScheduleConfig]:
        """Load the project (task modules, finalize handlers) and translate every ``beat_schedule`` entry."""
        load = getattr(self.app, "loader_import_default_modules", None)
        if callable(load):
            load()
        finalize = getattr(self.app, "finalize", None)
        if callable(finalize):
            finalize(auto=True)
        zone = celery_timezone(self.app)
        beat_schedule = self.app.conf.get("beat_schedule") or {}
        if not isinstance(beat_schedule, Mapping):
            raise ConfigurationError(f"beat_schedule must be a dict of entries, got {beat_schedule!r}")
        self.entries = {str(key): translate_entry(str(key), entry, zone, self.app)
                        for key, entry in beat_schedule.items()}
        self.app.__taskora_app__  # noqa: B018 - registers tasks imported above with the native app
        return {key: entry.config for key, entry in self.entries.items()}

    def dispatch(self, name: str, config: ScheduleConfig, fire_ms: int, job_id: str) -> Any:
        """Send one run like Celery beat (``send_task`` with the entry's options), as job ``job_id``."""
        entry = self.entries.get(name)
        if entry is None or entry.config.task != config.task:  # stored by another beat process
            extra = config.extra
            entry = BeatEntry(config, tuple(extra.get("args") or ()), dict(extra.get("kwargs") or {}),
                              dict(extra.get("options") or {}))
        options = {k: v for k, v in entry.options.items() if k != "task_id"}
        beat_log.info("Scheduler: Sending due task %s (%s)", name, config.task)
        return self.app.send_task(config.task, entry.args, entry.kwargs, task_id=job_id, **options)


def install_beat_schedule(celery_app: Any, native: Any = None) -> Any:
    """Make ``celery_app``'s beat schedule run on its native app's scheduler (idempotent).

    ``native`` is the app's Taskora when the caller is building it (``Celery._make_native``);
    otherwise ``celery_app.__taskora_app__`` is used.
    """
    native = native if native is not None else celery_app.__taskora_app__
    existing = native.schedules.sources.get(SOURCE)
    if existing is not None:
        return existing
    translator = BeatTranslator(celery_app)
    return native.schedules.add_source(SOURCE, translator.declarations, dispatch=translator.dispatch, prune=True)
