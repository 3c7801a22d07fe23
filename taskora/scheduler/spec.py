"""When a schedule fires: the pure, Redis-free half of the scheduler.

A *spec* answers one question, ``next_after(ms)``: the first fire time strictly after an epoch-ms
instant. Three kinds exist:

- ``IntervalSpec``: every N milliseconds (the seeds' ``every``); optionally aligned to the start of a
  second/minute/hour/day in a zone, which is what Celery's ``schedule(relative=True)`` does.
- ``CronSpec``: a cron expression (5 fields, or 6 with seconds first as cron-parser reads them) in an
  IANA zone, evaluated by croniter with the standard day-of-month OR day-of-week rule.
- ``CrontabSpec``: explicit field sets with Celery's rule that a day must match day-of-month AND
  day-of-week AND month (``taskora.compat.schedules.crontab`` builds these).

Calendar specs (cron and crontab) are evaluated on the zone's wall clock; the wall-clock candidates are
then mapped to instants with one DST policy, documented on ``_CalendarSpec._instants``:

- hour field covers all 24 hours (``*/15 * * * *``, hourly jobs): the schedule follows elapsed time, so it
  fires in both passes of a repeated hour and simply has no fires in a skipped hour;
- hour field restricted (``30 2 * * *``): a wall time repeated at fall-back fires once, at its first
  occurrence; a wall time skipped at spring-forward fires shifted forward by the gap (02:30 -> 03:30).

The missed-run policy (``MissedRunPolicy``) and ``plan_due_runs`` decide what a scheduler tick
dispatches; ``ScheduleConfig`` reads and writes the ``taskora:schedules`` JSON shared with TypeScript
taskora. The module is past 400 lines because the three spec kinds, the policy and the wire shape must
stay in one place that the leader loop, the schedule manager and the Celery beat translator all import.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from ..durations import Duration, to_ms
from ..errors import ConfigurationError

#: Zone used when a schedule names none (Python and Celery's default; TypeScript uses the process zone).
DEFAULT_TIMEZONE = "UTC"
#: Most runs one tick dispatches under ``"catch-up"`` (and the ceiling of ``"catch-up-limit:N"``), so a
#: scheduler that was down for a month does not flood the queue with a minutely job's backlog.
CATCH_UP_HARD_CAP = 1000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_SECOND = timedelta(seconds=1)
_ZERO = timedelta(0)
#: Largest wall-clock jump a zone makes at once (DST is 1 h, a few historical ones 2 h).
_MAX_SHIFT = timedelta(hours=3)
_ALIGN_UNITS = ("second", "minute", "hour", "day")
_POLICY_LIMIT = re.compile(r"^catch-up-limit:(\d+)$")


# --------------------------------------------------------------------------- time helpers


def _zone(name: object) -> ZoneInfo:
    """Resolve an IANA zone name; ConfigurationError names the bad value (ZoneInfo's errors do not say which option)."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"timezone: expected an IANA zone name like 'Europe/Berlin', got {name!r}")
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise ConfigurationError(f"timezone: unknown IANA time zone {name!r}") from None


def _instant_ms(aware: datetime) -> int:
    return (aware - _EPOCH) // _MS


def _wall(zone: ZoneInfo, ms: int) -> datetime:
    """Naive local wall time of an instant, floored to the second (cron works in whole seconds)."""
    return (_EPOCH + ms * _MS).astimezone(zone).replace(tzinfo=None, microsecond=0)


def _pad(zone: ZoneInfo, ms: int) -> timedelta:
    """How far around ``ms`` a scan must look: zero unless the zone's offset changes within 3 h."""
    at = _EPOCH + ms * _MS
    offsets = {(at + d).astimezone(zone).utcoffset() for d in (-_MAX_SHIFT, _ZERO, _MAX_SHIFT)}
    return _ZERO if len(offsets) == 1 else _MAX_SHIFT


# --------------------------------------------------------------------------- missed-run policy


@dataclass(frozen=True)
class MissedRunPolicy:
    """What a tick does with fire times that passed while no scheduler ran.

    ``skip`` (default) dispatches one run for the whole backlog and resumes after now; ``catch-up``
    dispatches every missed time (at most ``CATCH_UP_HARD_CAP``); ``catch-up-limit:N`` the last N.
    """

    mode: str = "skip"
    limit: int | None = None

    @classmethod
    def parse(cls, value: str | MissedRunPolicy | None) -> MissedRunPolicy:
        """Read the seeds' string form; None means the default, ``"skip"``."""
        if value is None or isinstance(value, MissedRunPolicy):
            return value or cls()
        if value in ("skip", "catch-up"):
            return cls(value)
        match = _POLICY_LIMIT.match(value) if isinstance(value, str) else None
        if match and int(match.group(1)) >= 1:
            return cls("catch-up-limit", int(match.group(1)))
        raise ConfigurationError(
            f"on_missed: expected 'skip', 'catch-up' or 'catch-up-limit:N' with N >= 1, got {value!r}"
        )

    @property
    def max_runs(self) -> int:
        """How many due times one tick may dispatch under this policy."""
        if self.mode == "skip":
            return 1
        return min(self.limit or CATCH_UP_HARD_CAP, CATCH_UP_HARD_CAP)

    def __str__(self) -> str:
        return f"catch-up-limit:{self.limit}" if self.mode == "catch-up-limit" else self.mode


@dataclass(frozen=True)
class DueRuns:
    """A tick's decision: the fire times to dispatch now (ascending) and the schedule's new next run."""

    fire_times: tuple[int, ...]
    next_run_ms: int
    #: True when the policy left out older due times (skip with a backlog, or a limit reached).
    dropped: bool = False


def plan_due_runs(
    spec: ScheduleSpec, next_run_ms: int, now_ms: int, policy: str | MissedRunPolicy | None = None
) -> DueRuns:
    """Decide what to dispatch for a schedule whose stored next run is ``next_run_ms``.

    The stored next run always counts as the first due time (it may have been set by an update or a
    TypeScript process), followed by the spec's fire times up to ``now_ms``. The new next run follows
    the latest due time, so interval schedules stay on their grid instead of drifting by tick latency.
    """
    if now_ms < next_run_ms:
        return DueRuns((), next_run_ms)
    keep = MissedRunPolicy.parse(policy).max_runs
    due = spec.latest_due(next_run_ms, now_ms, keep + 1)
    following = spec.next_after(due[-1])
    if following <= now_ms:  # only if the stored value disagrees with the spec; never fire twice
        following = spec.next_after(now_ms)
    return DueRuns(tuple(due[-keep:]), following, dropped=len(due) > keep)


# --------------------------------------------------------------------------- specs


class ScheduleSpec(ABC):
    """When a schedule fires. Implementations are frozen values, compared and hashed by content."""

    timezone: str

    @abstractmethod
    def next_after(self, ms: int) -> int:
        """First fire time (epoch ms) strictly after ``ms``; a new schedule's first run is ``next_after(now)``."""

    @abstractmethod
    def latest_due(self, first_ms: int, now_ms: int, limit: int) -> list[int]:
        """The last ``limit`` due times of the run series starting at ``first_ms`` (<= ``now_ms``), ascending."""

    @abstractmethod
    def to_wire(self) -> dict[str, Any]:
        """The spec's keys of the ``taskora:schedules`` JSON (``every`` | ``cron``, ``timezone``, ...)."""


@dataclass(frozen=True)
class IntervalSpec(ScheduleSpec):
    """Fire every ``every_ms``; with ``align``, each fire time is truncated to the start of that unit.

    Unaligned, the series is ``first, first + every, ...`` in absolute time (no DST effect). Aligned
    (Celery's ``relative=True``), ``next_after(t)`` is the start of the ``align`` unit holding
    ``t + every`` on the wall clock of ``timezone``.
    """

    every_ms: int
    align: str | None = None
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if isinstance(self.every_ms, bool) or not isinstance(self.every_ms, int) or self.every_ms <= 0:
            raise ConfigurationError(f"every: must be a positive duration, got {self.every_ms!r} ms")
        if self.align is not None and self.align not in _ALIGN_UNITS:
            raise ConfigurationError(f"align: expected one of {_ALIGN_UNITS}, got {self.align!r}")
        _zone(self.timezone)

    @classmethod
    def of(cls, every: Duration, *, align: str | None = None, timezone: str = DEFAULT_TIMEZONE) -> IntervalSpec:
        """Build from a user duration (seconds, timedelta or ``"30s"``/``"5m"``...)."""
        return cls(to_ms(every, name="every"), align, timezone)

    def next_after(self, ms: int) -> int:
        if self.align is None:
            return ms + self.every_ms
        unit = _unit_ms(self.align)
        candidate = self._truncate(ms + self.every_ms)
        if candidate <= ms:  # a 25-hour day (or a sub-unit period) truncated back onto ms
            candidate = self._truncate(ms + self.every_ms + unit)
        return candidate

    def latest_due(self, first_ms: int, now_ms: int, limit: int) -> list[int]:
        if self.align is None:
            last = (now_ms - first_ms) // self.every_ms
            return [first_ms + k * self.every_ms for k in range(max(0, last - limit + 1), last + 1)]
        horizon = (limit + 2) * self.every_ms + _unit_ms("day")
        at = first_ms if now_ms - first_ms <= horizon else self.next_after(now_ms - horizon)
        due: list[int] = []
        while at <= now_ms:
            due.append(at)
            at = self.next_after(at)
        return due[-limit:]

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"every": self.every_ms}
        if self.align is not None:
            wire["align"] = self.align
        if self.align is not None or self.timezone != DEFAULT_TIMEZONE:
            wire["timezone"] = self.timezone
        return wire

    def _truncate(self, ms: int) -> int:
        """Start of the ``align`` unit holding ``ms`` on the zone's wall clock (same DST pass)."""
        local = (_EPOCH + ms * _MS).astimezone(_zone(self.timezone)).replace(microsecond=0)
        if self.align in ("minute", "hour", "day"):
            local = local.replace(second=0)
        if self.align in ("hour", "day"):
            local = local.replace(minute=0)
        if self.align == "day":
            local = local.replace(hour=0, fold=0)
        return _instant_ms(local)


def _unit_ms(unit: str) -> int:
    return {"second": 1_000, "minute": 60_000, "hour": 3_600_000, "day": 86_400_000}[unit]


class _CalendarSpec(ScheduleSpec):
    """A cron-like calendar evaluated on a zone's wall clock by croniter, then mapped to instants."""

    timezone: str

    @property
    @abstractmethod
    def _expression(self) -> str:
        """The croniter expression for the wall-clock calendar."""

    _day_or = True

    @property
    def _seconds_first(self) -> bool:
        return False

    def _iterator(self, start: datetime) -> Any:
        from croniter import croniter  # ~90 ms to import: paid by the first cron schedule, not every app

        return croniter(
            self._expression,
            start,
            day_or=self._day_or,
            second_at_beginning=self._seconds_first,
            max_years_between_matches=100,
        )

    def _walls(self, start: datetime, forward: bool) -> Iterator[datetime]:
        """Wall-clock fire candidates strictly after (or before) the naive ``start``."""
        it = self._iterator(start)
        step = it.get_next if forward else it.get_prev
        while True:
            try:
                yield step(datetime)
            except _bad_date_error():
                return

    @property
    def _follows_elapsed_time(self) -> bool:
        """True when every hour can fire: such schedules track real time across DST changes."""
        hours = self._iterator(datetime(2000, 1, 1)).expanded[1]
        return hours == ["*"] or len(hours) == 24

    def _instants(self, wall: datetime) -> tuple[int, ...]:
        """Instants at which a wall-clock candidate fires (the DST policy, see the module docstring).

        ``fold=0`` of a repeated time is its first occurrence; ``fold=0`` of a skipped time uses the
        offset before the change, i.e. the wall time shifted forward by the gap.
        """
        zone = _zone(self.timezone)
        first = _instant_ms(wall.replace(tzinfo=zone, fold=0))
        second = _instant_ms(wall.replace(tzinfo=zone, fold=1))
        if first == second:
            return (first,)
        if first < second:  # repeated (fall back)
            return (first, second) if self._follows_elapsed_time else (first,)
        return () if self._follows_elapsed_time else (first,)  # skipped (spring forward)

    def _nearest(self, ms: int, forward: bool) -> int | None:
        """First fire strictly after ``ms`` (forward) or the last one at or before it (backward).

        Wall candidates are not monotonic in time next to an offset change, so near one the scan starts
        ``_MAX_SHIFT`` early and keeps going until no later candidate can beat the best instant found.
        """
        zone, sign = _zone(self.timezone), (1 if forward else -1)
        start = _wall(zone, ms) - sign * _pad(zone, ms) + (_ZERO if forward else _SECOND)
        best: int | None = None
        for wall in self._walls(start, forward):
            if best is not None and sign * (wall - _wall(zone, best)) > _pad(zone, best):
                break
            for at in self._instants(wall):
                eligible = at > ms if forward else at <= ms
                if eligible and (best is None or sign * (at - best) < 0):
                    best = at
        return best

    def next_after(self, ms: int) -> int:
        found = self._nearest(ms, forward=True)
        if found is None:
            raise ConfigurationError(f"schedule {self._expression!r} has no fire time after {ms}")
        return found

    def latest_due(self, first_ms: int, now_ms: int, limit: int) -> list[int]:
        due: list[int] = []
        at = self._nearest(now_ms, forward=False)
        while at is not None and at > first_ms and len(due) < limit:
            due.append(at)
            at = self._nearest(at - 1, forward=False)
        if len(due) < limit:
            due.append(first_ms)
        return due[::-1]

    def _check_fires(self, what: str) -> None:
        try:
            self._iterator(datetime(2000, 1, 1)).get_next(datetime)
        except _bad_date_error():
            raise ConfigurationError(f"{what}: never fires (no date matches)") from None


@dataclass(frozen=True)
class CronSpec(_CalendarSpec):
    """A cron expression in an IANA zone (standard cron: day-of-month OR day-of-week when both are set).

    Five fields ``minute hour day-of-month month day-of-week``, six with seconds first (cron-parser's
    order, so TypeScript taskora reads the same string the same way), or an ``@daily``-style alias.
    """

    expression: str
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        expr = self.expression
        if not isinstance(expr, str) or not expr.strip():
            raise ConfigurationError(f"cron: expected a cron expression string, got {expr!r}")
        count = len(expr.split())
        if not expr.strip().startswith("@") and count not in (5, 6):
            raise ConfigurationError(
                f"cron: {expr!r} has {count} fields; expected 5 (minute hour day-of-month month "
                "day-of-week) or 6 with seconds first"
            )
        _zone(self.timezone)
        try:
            self._iterator(datetime(2000, 1, 1))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise ConfigurationError(f"cron: malformed expression {expr!r}: {exc}") from None
        self._check_fires(f"cron {expr!r}")

    @property
    def _expression(self) -> str:
        return self.expression

    @property
    def _seconds_first(self) -> bool:
        return len(self.expression.split()) == 6

    def to_wire(self) -> dict[str, Any]:
        return {"cron": self.expression, "timezone": self.timezone}


_CRONTAB_FIELDS = (  # (attribute, wire key, min, max)
    ("minute", "minute", 0, 59),
    ("hour", "hour", 0, 23),
    ("day_of_week", "dayOfWeek", 0, 6),
    ("day_of_month", "dayOfMonth", 1, 31),
    ("month_of_year", "monthOfYear", 1, 12),
)
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class CrontabSpec(_CalendarSpec):
    """Celery crontab field sets: a day fires when day-of-month AND day-of-week AND month all match.

    Day of week counts Sunday as 0. ``standard_cron()`` gives the equivalent cron string whenever one
    exists (not when both day fields are restricted: cron would OR them).
    """

    minute: frozenset[int]
    hour: frozenset[int]
    day_of_week: frozenset[int]
    day_of_month: frozenset[int]
    month_of_year: frozenset[int]
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        for attr, _, low, high in _CRONTAB_FIELDS:
            values = getattr(self, attr)
            if not isinstance(values, frozenset):
                values = frozenset(values)
                object.__setattr__(self, attr, values)
            bad = sorted(v for v in values if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high)
            if not values or bad:
                raise ConfigurationError(f"crontab {attr}: needs values in {low}-{high}, got {sorted(values, key=str)}")
        if not any(day <= _MONTH_DAYS[m - 1] for m in self.month_of_year for day in self.day_of_month):
            raise ConfigurationError(
                f"crontab: day_of_month {sorted(self.day_of_month)} never occurs in "
                f"month_of_year {sorted(self.month_of_year)}"
            )
        _zone(self.timezone)

    _day_or = False

    @property
    def _expression(self) -> str:
        return " ".join(self._cron_fields())

    def _cron_fields(self) -> list[str]:
        """Fields in cron order (minute hour day-of-month month day-of-week), ``*`` for full sets."""
        text = {attr: _set_text(getattr(self, attr), low, high) for attr, _, low, high in _CRONTAB_FIELDS}
        return [text["minute"], text["hour"], text["day_of_month"], text["month_of_year"], text["day_of_week"]]

    def standard_cron(self) -> str | None:
        """The same schedule as a standard 5-field cron string, or None when cron cannot express it."""
        fields = self._cron_fields()
        return None if fields[2] != "*" and fields[4] != "*" else " ".join(fields)

    def to_wire(self) -> dict[str, Any]:
        sets = {key: sorted(getattr(self, attr)) for attr, key, _, _ in _CRONTAB_FIELDS}
        wire: dict[str, Any] = {"crontab": sets, "timezone": self.timezone}
        cron = self.standard_cron()
        if cron is not None:
            wire["cron"] = cron
        return wire

    @classmethod
    def from_wire(cls, sets: Mapping[str, Any], timezone: str) -> CrontabSpec:
        try:
            minute, hour, dow, dom, month = (frozenset(sets[key]) for _, key, _, _ in _CRONTAB_FIELDS)
            return cls(minute, hour, dow, dom, month, timezone=timezone)
        except (KeyError, TypeError) as exc:
            raise ConfigurationError(f"crontab: malformed field sets {dict(sets)!r} ({exc})") from None


def _set_text(values: frozenset[int], low: int, high: int) -> str:
    """Comma list with runs of three or more as ``a-b``; ``*`` for the full range."""
    if len(values) == high - low + 1:
        return "*"
    ordered, parts, i = sorted(values), [], 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(f"{ordered[i]}-{ordered[j]}" if j - i >= 2 else ",".join(map(str, ordered[i : j + 1])))
        i = j + 1
    return ",".join(parts)


def make_spec(
    *, every: Duration | None = None, cron: str | None = None, timezone: str | None = None
) -> IntervalSpec | CronSpec:
    """Build the spec of a native ``schedule=`` option: exactly one of ``every`` and ``cron``."""
    if (every is None) == (cron is None):
        given = "both" if every is not None else "neither"
        raise ConfigurationError(f"schedule: give exactly one of 'every' and 'cron' ({given} given)")
    zone = DEFAULT_TIMEZONE if timezone is None else timezone
    if cron is not None:
        return CronSpec(cron, zone)
    _zone(zone)
    return IntervalSpec.of(every)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- wire shape

_CORE_KEYS = frozenset(
    {"task", "overlap", "onMissed", "data", "paused", "lastRun", "lastJobId"}
    | {"every", "align", "cron", "crontab", "timezone"}
)


def spec_from_wire(raw: Mapping[str, Any]) -> ScheduleSpec:
    """Rebuild a spec from a stored config: ``crontab`` wins over ``cron`` (which is then only a copy)."""
    zone = raw.get("timezone") or DEFAULT_TIMEZONE
    if raw.get("crontab") is not None:
        return CrontabSpec.from_wire(raw["crontab"], zone)
    if raw.get("cron") is not None:
        return CronSpec(raw["cron"], zone)
    every = raw.get("every")
    if isinstance(every, (int, float)) and not isinstance(every, bool):
        return IntervalSpec(int(every), raw.get("align"), zone)
    raise ConfigurationError(f"schedule config: needs 'every' (ms) or 'cron', got {dict(raw)!r}")


#: The order the TypeScript taskora writes a stored schedule's keys in (JSON.stringify keeps insertion order).
WIRE_KEY_ORDER = ("task", "overlap", "onMissed", "data", "every", "cron", "timezone", "lastJobId", "lastRun")


@dataclass(frozen=True)
class ScheduleConfig:
    """One entry of the ``taskora:schedules`` hash (the name is the hash field, not part of the JSON).

    Wire keys: ``task, overlap, onMissed, every | cron, timezone, data, lastRun, lastJobId`` as
    TypeScript taskora writes them, plus our additive ``paused``, ``align`` and ``crontab``. Any other
    key (e.g. a Celery entry's ``args``/``kwargs``/``options``) lives in ``extra`` and is written back
    unchanged, so rewriting ``lastRun`` never loses fields another process added.
    """

    task: str
    spec: ScheduleSpec
    on_missed: MissedRunPolicy = field(default_factory=MissedRunPolicy)
    overlap: bool = False
    data: Any = None
    paused: bool = False
    last_run: int | None = None
    last_job_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task:
            raise ConfigurationError(f"schedule: 'task' must be a task name, got {self.task!r}")
        if not isinstance(self.spec, ScheduleSpec):
            raise ConfigurationError(f"schedule: 'spec' must be a ScheduleSpec, got {self.spec!r}")
        object.__setattr__(self, "on_missed", MissedRunPolicy.parse(self.on_missed))  # accept the string form

    def to_wire(self) -> dict[str, Any]:
        """The JSON object stored under the schedule's name."""
        wire: dict[str, Any] = dict(self.extra)
        wire.update(task=self.task, overlap=self.overlap, onMissed=str(self.on_missed))
        wire.update(self.spec.to_wire())
        optional = {"data": self.data, "lastRun": self.last_run, "lastJobId": self.last_job_id}
        wire.update((k, v) for k, v in optional.items() if v is not None)
        if self.paused:
            wire["paused"] = True
        return wire

    def to_json(self) -> str:
        """The stored text: TypeScript's keys in TypeScript's order (recording 15), then ours sorted."""
        wire = self.to_wire()
        ordered = {k: wire[k] for k in WIRE_KEY_ORDER if k in wire}
        ordered.update((k, wire[k]) for k in sorted(wire) if k not in ordered)
        return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> ScheduleConfig:
        """Read a stored entry, whichever taskora wrote it; errors name the bad key."""
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"schedule config: expected a JSON object, got {raw!r}")
        last_run = raw.get("lastRun")
        if last_run is not None and (isinstance(last_run, bool) or not isinstance(last_run, (int, float))):
            raise ConfigurationError(f"schedule config: 'lastRun' must be epoch ms, got {last_run!r}")
        return cls(
            task=raw.get("task"),  # type: ignore[arg-type]  # validated in __post_init__
            spec=spec_from_wire(raw),
            on_missed=MissedRunPolicy.parse(raw.get("onMissed")),
            overlap=bool(raw.get("overlap", False)),
            data=raw.get("data"),
            paused=bool(raw.get("paused", False)),
            last_run=None if last_run is None else int(last_run),
            last_job_id=raw.get("lastJobId"),
            extra={k: v for k, v in raw.items() if k not in _CORE_KEYS},
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ScheduleConfig:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(f"schedule config: not JSON ({exc})") from None
        return cls.from_wire(raw)


def _bad_date_error() -> type[Exception]:
    """croniter's "no such date" error, imported when a cron calendar is first evaluated (see ``_iterator``)."""
    from croniter import CroniterBadDateError

    return CroniterBadDateError
