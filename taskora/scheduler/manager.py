"""``app.schedules``: declared schedules, their sync into Redis, and runtime management.

Schedules are declared in code (``schedule=`` on a task, ``app.schedule(...)``, or a front-end's
source such as Celery's ``beat_schedule``) and stored in ``taskora:schedules`` (config JSON) and
``taskora:schedules:next`` (next run). The leader syncs the declarations when it takes the lock;
``list/pause/resume/update/remove/trigger`` then act on the stored copy from any process, each as
one compare-and-set script so they never clobber a concurrent tick.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, TaskoraError, UnknownTaskError, reject_unknown
from .spec import MissedRunPolicy, ScheduleConfig, ScheduleSpec, make_spec

if TYPE_CHECKING:
    from ..app import Taskora
    from ..handles import ResultHandle

log = logging.getLogger("taskora.scheduler")

#: Namespace of scheduled job ids: uuid5(name + fire time), so a run re-fired by a new leader is the same job.
RUN_ID_NAMESPACE = uuid.UUID("6f1d8a52-9c1e-4d4e-8f0b-2a5d3c7e9b14")
#: Keys a task's ``schedule=`` option (and ``app.schedule``) accept besides ``every``/``cron``/``timezone``.
_SCHEDULE_KEYS = frozenset({"every", "cron", "timezone", "data", "on_missed", "onMissed", "overlap"})
#: Job states in which a previous run still counts as running for ``overlap=False``.
RUNNING_STATES = frozenset({"waiting", "delayed", "active", "retrying"})
#: The source name of schedules declared with the native API.
NATIVE = "native"
_CAS_ATTEMPTS = 20

#: A source's dispatcher: (schedule name, config, fire time ms, job id) -> handle of the dispatched job.
Dispatcher = Callable[[str, ScheduleConfig, int, str], Any]


def run_id(name: str, fire_ms: int) -> str:
    """The job id of schedule ``name``'s run at ``fire_ms``: the same in every process."""
    return str(uuid.uuid5(RUN_ID_NAMESPACE, f"{name}\n{fire_ms}"))


@dataclass
class ScheduleSource:
    """Where declarations come from. ``prune``: stored entries of this source that are no longer
    declared are deleted at sync (Celery beat's rule for removed ``beat_schedule`` keys)."""

    name: str
    declarations: Callable[[], Mapping[str, ScheduleConfig]]
    dispatch: Dispatcher | None = None
    prune: bool = False


@dataclass(frozen=True)
class ScheduleInfo:
    """One stored schedule as ``list()`` returns it."""

    name: str
    config: ScheduleConfig
    next_run_ms: int | None
    #: Raw JSON as stored (what compare-and-set writes compare against).
    raw: str = field(repr=False, default="")

    @property
    def paused(self) -> bool:
        return self.config.paused

    @property
    def next_run(self) -> datetime | None:
        return None if self.next_run_ms is None else datetime.fromtimestamp(self.next_run_ms / 1000, timezone.utc)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (CLI ``--json``): the stored config plus name, next run and state."""
        wire = self.config.to_wire()
        return {"name": self.name, **wire, "nextRun": self.next_run_ms, "paused": self.config.paused}


def config_from_options(task: str, options: Mapping[str, Any], *, overlap: bool = False) -> ScheduleConfig:
    """Validate a native schedule declaration (task option or ``app.schedule``) into a config."""
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"schedule for {task!r}: expected a dict like {{'every': '5m'}}, got {options!r}")
    reject_unknown(f"schedule for {task!r}", options, _SCHEDULE_KEYS, noun="key(s)")
    spec = make_spec(every=options.get("every"), cron=options.get("cron"), timezone=options.get("timezone"))
    on_missed = MissedRunPolicy.parse(options.get("on_missed", options.get("onMissed")))
    overlap = options.get("overlap", overlap)
    if not isinstance(overlap, bool):
        raise ConfigurationError(f"schedule for {task!r}: overlap must be True or False, got {overlap!r}")
    _check_json(task, options.get("data"))
    return ScheduleConfig(task=task, spec=spec, on_missed=on_missed, overlap=overlap, data=options.get("data"))


def _check_json(task: str, data: Any) -> None:
    try:
        json.dumps(data)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"schedule for {task!r}: data must be JSON-serializable ({exc})") from None


class ScheduleManager:
    """The app's schedules: declarations (code) and the stored, running copy (Redis)."""

    def __init__(self, app: Taskora) -> None:
        self.app = app
        self._native: dict[str, ScheduleConfig] = {}
        self.sources: dict[str, ScheduleSource] = {NATIVE: ScheduleSource(NATIVE, lambda: dict(self._native))}

    # -- declarations -----------------------------------------------------------------------------
    def declare(self, name: str, *, task: str, check_task: bool = True, **options: Any) -> ScheduleConfig:
        """Declare schedule ``name`` for ``task``; errors (unknown task, bad cron or zone) raise here."""
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"schedule name must be a non-empty string, got {name!r}")
        if name in self._native:
            raise ConfigurationError(f"schedule {name!r} is already declared on this app")
        if check_task and task not in self.app.tasks:
            known = ", ".join(sorted(self.app.tasks)) or "none"
            raise ConfigurationError(f"schedule {name!r}: no task named {task!r} is registered (known: {known})")
        config = config_from_options(task, {k: v for k, v in options.items() if v is not None})
        self._native[name] = config
        return config

    def add_source(self, name: str, declarations: Callable[[], Mapping[str, ScheduleConfig]], *,
                   dispatch: Dispatcher | None = None, prune: bool = False) -> ScheduleSource:  # fmt: skip
        """Register a front-end's declarations (read when the scheduler starts, after config loads)."""
        if name in self.sources:
            raise ConfigurationError(f"schedule source {name!r} is already registered")
        source = ScheduleSource(name, declarations, dispatch, prune)
        self.sources[name] = source
        return source

    def declared(self) -> dict[str, ScheduleConfig]:
        """Every declared schedule by name, tagged with its source (``extra['source']``)."""
        found: dict[str, ScheduleConfig] = {}
        for source in self.sources.values():
            for name, config in source.declarations().items():
                if name in found:
                    raise ConfigurationError(f"schedule {name!r} is declared twice (second time by {source.name!r})")
                found[name] = dataclasses.replace(config, extra={**config.extra, "source": source.name})
        return found

    def validate(self) -> dict[str, ScheduleConfig]:
        """What a scheduler checks at startup: every declared schedule names a registered task."""
        declared = self.declared()
        for name, config in declared.items():
            if config.task not in self.app.tasks:
                raise ConfigurationError(f"schedule {name!r}: no task named {config.task!r} is registered "
                                         f"(known: {', '.join(sorted(self.app.tasks)) or 'none'})")
        return declared

    # -- sync -------------------------------------------------------------------------------------
    def sync(self) -> dict[str, list[str]]:
        """Write the declarations into Redis, keeping run state; prune removed entries of pruning sources.

        A new schedule's first run is the spec's first fire time after now. A changed one keeps its
        ``lastRun``, ``lastJobId`` and paused state; its next run is kept when the timing is unchanged,
        else recomputed from the last run (so an overdue run fires once, as Celery beat does).
        """
        declared = self.declared()
        stored = self.app.adapter.schedules_read()
        report: dict[str, list[str]] = {"added": [], "updated": [], "removed": []}
        for name, config in declared.items():
            outcome = self._sync_one(name, config, stored.get(name))
            if outcome:
                report[outcome].append(name)
        pruning = {s.name for s in self.sources.values() if s.prune}
        for name, (raw, _) in stored.items():
            if name not in declared and _source_of(raw) in pruning:
                if self.app.adapter.schedule_set(name, raw, "", None):
                    report["removed"].append(name)
        return report

    def _sync_one(self, name: str, config: ScheduleConfig, stored: tuple[str, int | None] | None) -> str | None:
        now = self.app.adapter.now_ms()
        for _ in range(_CAS_ATTEMPTS):
            if stored is None:
                if self.app.adapter.schedule_set(name, "", config.to_json(), config.spec.next_after(now)):
                    return "added"
            else:
                raw, next_ms = stored
                merged, next_run = _merge(config, raw, next_ms, now)
                if merged.to_json() == raw and next_run == next_ms:
                    return None
                if self.app.adapter.schedule_set(name, raw, merged.to_json(), next_run):
                    return "updated"
            stored = self.app.adapter.schedules_read([name]).get(name)
        raise TaskoraError(f"schedule {name!r}: could not sync, it kept changing under us")

    # -- reading ----------------------------------------------------------------------------------
    def list(self) -> list[ScheduleInfo]:
        """Every stored schedule, by name (entries that cannot be read are logged and left out)."""
        infos = []
        for name, (raw, next_ms) in sorted(self.app.adapter.schedules_read().items()):
            try:
                infos.append(ScheduleInfo(name, ScheduleConfig.from_json(raw), next_ms, raw))
            except ConfigurationError as exc:
                log.warning("schedule %r has an unreadable config: %s", name, exc)
        return infos

    def get(self, name: str) -> ScheduleInfo:
        stored = self.app.adapter.schedules_read([name]).get(name)
        if stored is None:
            known = ", ".join(sorted(self.app.adapter.schedules_read())) or "none"
            raise UnknownTaskError(f"no schedule named {name!r} is stored (known: {known})")
        return ScheduleInfo(name, ScheduleConfig.from_json(stored[0]), stored[1], stored[0])

    # -- runtime management -----------------------------------------------------------------------
    def pause(self, name: str) -> ScheduleInfo:
        """Stop firing ``name`` until ``resume``; the stored config keeps ``paused: true``."""
        return self._change(name, lambda info: (dataclasses.replace(info.config, paused=True), None))

    def resume(self, name: str) -> ScheduleInfo:
        """Fire ``name`` again from its next fire time after now (runs missed while paused are skipped)."""
        def resumed(info: ScheduleInfo) -> tuple[ScheduleConfig, int | None]:
            if not info.config.paused and info.next_run_ms is not None:
                return info.config, info.next_run_ms
            return dataclasses.replace(info.config, paused=False), info.config.spec.next_after(self._now())

        return self._change(name, resumed)

    def update(self, name: str, **changes: Any) -> ScheduleInfo:
        """Change ``every``/``cron``/``timezone``/``data``/``on_missed``/``overlap``/``task`` of a schedule.

        A new timing takes effect from now (next run = its first fire time after now).
        """
        reject_unknown(f"schedules.update({name!r})", changes, _SCHEDULE_KEYS | {"task"})
        if "task" in changes and changes["task"] not in self.app.tasks:
            raise ConfigurationError(f"schedules.update({name!r}): no task named {changes['task']!r} is registered")
        return self._change(name, lambda info: self._updated(info, changes))

    def _updated(self, info: ScheduleInfo, changes: Mapping[str, Any]) -> tuple[ScheduleConfig, int | None]:
        config, next_run = info.config, info.next_run_ms
        spec: ScheduleSpec
        if "every" in changes or "cron" in changes:
            zone = changes.get("timezone", config.spec.timezone if "cron" in changes else None)
            spec = make_spec(every=changes.get("every"), cron=changes.get("cron"), timezone=zone)
        elif "timezone" in changes:
            spec = dataclasses.replace(config.spec, timezone=changes["timezone"])  # type: ignore[type-var]
        else:
            spec = config.spec
        if spec != config.spec:
            config = dataclasses.replace(config, spec=spec)
            next_run = None if config.paused else spec.next_after(self._now())
        if "data" in changes:
            _check_json(info.name, changes["data"])
            config = dataclasses.replace(config, data=changes["data"])
        if "on_missed" in changes or "onMissed" in changes:
            config = dataclasses.replace(config, on_missed=MissedRunPolicy.parse(
                changes.get("on_missed", changes.get("onMissed"))))
        if "overlap" in changes:
            config = dataclasses.replace(config, overlap=bool(changes["overlap"]))
        if "task" in changes:
            config = dataclasses.replace(config, task=changes["task"])
        return config, next_run

    def remove(self, name: str) -> bool:
        """Delete a stored schedule; False when there was none. A declared one comes back at the next sync."""
        stored = self.app.adapter.schedules_read([name]).get(name)
        return stored is not None and self.app.adapter.schedule_set(name, "*", "", None)

    def trigger(self, name: str) -> ResultHandle[Any]:
        """Run ``name`` now, outside its timing (its next run is unchanged); returns the job's handle."""
        holder: dict[str, Any] = {}

        def triggered(info: ScheduleInfo) -> tuple[ScheduleConfig, int | None]:
            if "handle" not in holder:
                now = self._now()
                holder["handle"] = self.dispatch_run(name, info.config, now, str(uuid.uuid4()))
                holder["at"] = now
            config = dataclasses.replace(info.config, last_run=holder["at"], last_job_id=holder["handle"].id)
            return config, info.next_run_ms

        self._change(name, triggered)
        return holder["handle"]  # type: ignore[no-any-return]

    def _change(self, name: str, change: Callable[[ScheduleInfo], tuple[ScheduleConfig, int | None]]) -> ScheduleInfo:
        for _ in range(_CAS_ATTEMPTS):
            info = self.get(name)
            config, next_run = change(info)
            if config.paused:
                next_run = None
            if self.app.adapter.schedule_set(name, info.raw, config.to_json(), next_run):
                return ScheduleInfo(name, config, next_run, config.to_json())
        raise TaskoraError(f"schedule {name!r}: could not apply the change, it kept changing under us")

    # -- dispatching ------------------------------------------------------------------------------
    def dispatch_run(self, name: str, config: ScheduleConfig, fire_ms: int, job_id: str) -> ResultHandle[Any]:
        """Enqueue one run of ``name`` as job ``job_id`` through the schedule's source (native by default)."""
        source = self.sources.get(str(config.extra.get("source") or NATIVE))
        if source is not None and source.dispatch is not None:
            return source.dispatch(name, config, fire_ms, job_id)  # type: ignore[no-any-return]
        task = self.app.get_task(config.task)
        meta = {"schedule": name, "scheduledAt": str(fire_ms)}
        return task.dispatch(config.data, job_id=job_id, meta=meta)

    def _now(self) -> int:
        return self.app.adapter.now_ms()


def _merge(config: ScheduleConfig, raw: str, next_ms: int | None, now: int) -> tuple[ScheduleConfig, int | None]:
    """A declaration over its stored copy: run state and paused flag kept; next run per ``sync``."""
    try:
        old = ScheduleConfig.from_json(raw)
    except ConfigurationError:
        return config, config.spec.next_after(now)
    merged = dataclasses.replace(config, paused=old.paused, last_run=old.last_run, last_job_id=old.last_job_id)
    if merged.paused:
        return merged, None
    if old.spec == config.spec and next_ms is not None:
        return merged, next_ms
    base = old.last_run if old.last_run is not None and old.spec != config.spec else now
    return merged, config.spec.next_after(base)


def _source_of(raw: str) -> str | None:
    try:
        value = json.loads(raw).get("source")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
