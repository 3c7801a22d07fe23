"""Celery's ``celery.schedules``: ``schedule`` and ``crontab`` as thin fronts over native schedule specs.

Each schedule parses Celery's arguments with Celery's rules (positional order minute, hour,
day_of_week, day_of_month, month_of_year; Sunday = 0; wrap-around ranges; day fields ANDed) and hands
the beat translator a native spec through ``to_spec(timezone)``. ``remaining_estimate``/``is_due`` are
kept for code that calls them directly and are computed from that same spec.

Celery's first run (``first_fire_ms``): a new beat entry starts with ``last_run_at = now``, so an
interval first fires one interval after start and a crontab at its next matching time; both are
``spec.next_after(start)``. Missed runs collapse to one immediate run, which is the native ``"skip"``
policy (``CELERY_ON_MISSED``). ``solar`` is not provided: see ``__getattr__`` at the end.
"""

from __future__ import annotations

import numbers
from collections import namedtuple
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from datetime import timezone as _datetime_timezone
from typing import Any
from zoneinfo import ZoneInfo

from taskora.errors import ConfigurationError
from taskora.scheduler import CrontabSpec, IntervalSpec, ScheduleSpec

from ._relative_deadline import relative_due

__all__ = [
    "CELERY_ON_MISSED",
    "BaseSchedule",
    "ParseException",
    "crontab",
    "crontab_parser",
    "maybe_schedule",
    "schedstate",
    "schedule",
]

#: Celery's ``(is_due, next)`` answer: ``next`` is seconds until the scheduler should check again.
schedstate = namedtuple("schedstate", ("is_due", "next"))

#: Celery beat fires a schedule once for any number of missed times, then goes on from now.
CELERY_ON_MISSED = "skip"

_UTC = _datetime_timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: Names Celery reads in any field, by their first three letters (the two lists share no prefix).
_NAMES = {**{m: i for i, m in enumerate(_MONTHS, 1)}, **{d: i for i, d in enumerate(_DAYS)}}


class ParseException(ValueError):
    """A crontab field string cannot be parsed (a ValueError, so ``except ValueError`` catches it too)."""


class crontab_parser:  # noqa: N801 - Celery's public name
    """Expand one crontab field string (``'*/15'``, ``'1-5,10'``, ``'fri-mon'``) to a set of ints.

    ``max_`` is the number of values and ``min_`` the first one, as in Celery: minutes ``(60, 0)``,
    hours ``(24, 0)``, days of week ``(7, 0)``, days of month ``(31, 1)``, months ``(12, 1)``.
    """

    ParseException = ParseException

    def __init__(self, max_: int = 60, min_: int = 0) -> None:
        self.max_ = max_
        self.min_ = min_

    def parse(self, spec: str) -> set[int]:
        values: set[int] = set()
        for part in spec.split(","):
            if not part.strip():
                raise ParseException("empty part")
            values.update(self._part(part.strip()))
        return values

    def _part(self, part: str) -> list[int]:
        body, slash, step_text = part.partition("/")
        if body.startswith("-"):
            raise ParseException("negative numbers not supported")
        if body == "*":
            values = list(range(self.min_, self.min_ + self.max_))
        elif "-" in body:
            low, _, high = body.partition("-")
            values = self._range(self._number(low), self._number(high))
        elif slash:
            raise ValueError(f"a step needs '*' or a range before it, got {part!r} (write '*/S' or 'A-B/S')")
        else:
            return [self._number(body)]
        return values[:: self._step(step_text)] if slash else values

    def _range(self, low: int, high: int) -> list[int]:
        """Inclusive range; ``high < low`` wraps past the field's end (``'fri-mon'``, ``'22-2'``)."""
        if high >= low:
            return list(range(low, high + 1))
        return list(range(low, self.min_ + self.max_)) + list(range(self.min_, high + 1))

    @staticmethod
    def _step(text: str) -> int:
        if not text:
            raise ParseException("empty filter")
        if not text.isdigit() or int(text) == 0:
            raise ValueError(f"step must be a positive integer, got {text!r}")
        return int(text)

    def _number(self, text: str) -> int:
        if text.startswith("-"):
            raise ParseException("negative numbers not supported")
        if text.isdigit():
            value = int(text)
        elif text[:3].lower() in _NAMES:
            value = _NAMES[text[:3].lower()]
        else:
            raise ValueError(f"Invalid weekday or month literal {text!r}.")
        highest = self.min_ + self.max_ - 1
        if value > highest:
            raise ValueError(f"Invalid end range: {value} > {highest}.")
        if value < self.min_:
            raise ValueError(f"Invalid beginning range: {value} < {self.min_}.")
        return value


def _expand(field: str, spec: Any, max_: int, min_: int = 0) -> set[int]:
    """Celery's accepted forms (int, str, set, any iterable of ints) -> set; errors name the field."""
    if isinstance(spec, numbers.Integral):
        values = {int(spec)}
    elif isinstance(spec, str):
        try:
            values = crontab_parser(max_, min_).parse(spec)
        except ValueError as exc:
            raise type(exc)(f"Invalid crontab pattern for {field} ({spec!r}): {exc}") from None
    elif isinstance(spec, Iterable):
        values = set(spec)
    else:
        raise TypeError(
            f"Argument {field} needs to be of any of the following types: int, str, or an iterable type. "
            f"{type(spec)!r} was given."
        )
    for value in values:
        if not isinstance(value, numbers.Integral) or not min_ <= value < min_ + max_:
            raise ValueError(
                f"Invalid crontab pattern for {field}. Valid range is {min_}-{min_ + max_ - 1}. "
                f"'{value}' was found."
            )
    return {int(v) for v in values}


def _in_zone(moment: datetime, zone: Any) -> datetime:
    """``moment`` in ``zone``; a naive one is UTC (Celery's ``maybe_make_aware(naive_as_utc=True)``)."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=_UTC)).astimezone(zone)


def _as_ms(moment: datetime) -> int:
    """Epoch ms of a datetime; naive ones are UTC, as Celery reads them (``naive_as_utc``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def zone_name(zone: Any) -> str:
    """The IANA name of a zone given as a name, a ``ZoneInfo`` or a dateutil ``tzfile`` (its zoneinfo path)."""
    if isinstance(zone, str):
        return zone
    key = getattr(zone, "key", None)
    if isinstance(key, str):
        return key
    filename = getattr(zone, "_filename", None)
    if isinstance(filename, str) and "zoneinfo/" in filename:
        return filename.rsplit("zoneinfo/", 1)[1]
    return str(zone)


class BaseSchedule:
    """What every Celery schedule has: a clock (``nowfun``) and an app whose ``timezone`` applies."""

    def __init__(self, nowfun: Callable[[], datetime] | None = None, app: Any = None) -> None:
        self.nowfun = nowfun
        self.app = app

    def now(self) -> datetime:
        """``nowfun()``, else the app's ``now()`` (its timezone), else the current UTC time."""
        if self.nowfun is not None:
            return self.nowfun()
        return self.app.now() if callable(getattr(self.app, "now", None)) else datetime.now(_UTC)

    @property
    def tz(self) -> str:
        """The app's timezone name (``app.conf.timezone``, a name or a tzinfo, else ``app.timezone``), UTC by
        default."""
        configured = getattr(getattr(self.app, "conf", None), "timezone", None)
        zone = configured if configured is not None else getattr(self.app, "timezone", None)
        return zone_name(zone) if zone else "UTC"

    @property
    def tzinfo(self) -> Any:
        """The app's timezone as a tzinfo (a configured ``ZoneInfo``/dateutil zone as given, a name looked up)."""
        configured = getattr(getattr(self.app, "conf", None), "timezone", None)
        if configured is not None and not isinstance(configured, str):
            return configured
        return _UTC if self.tz == "UTC" else ZoneInfo(self.tz)

    def to_spec(self, timezone: str | None = None) -> ScheduleSpec:
        """The native spec the beat translator stores; ``timezone`` defaults to the app's."""
        raise NotImplementedError

    def first_fire_ms(self, start_ms: int, timezone: str | None = None) -> int:
        """Celery's first run of a new entry when beat starts at ``start_ms`` (see the module docstring)."""
        return self.to_spec(timezone).next_after(start_ms)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time from now until the run that follows ``last_run_at`` (negative when overdue)."""
        following = self.to_spec().next_after(_as_ms(last_run_at))
        return timedelta(milliseconds=following - _as_ms(self.now()))

    def is_due(self, last_run_at: datetime) -> schedstate:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BaseSchedule):
            return other.nowfun == self.nowfun
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value, as in Celery


class schedule(BaseSchedule):  # noqa: N801 - Celery's public name
    """Every ``run_every`` (seconds or timedelta); ``relative=True`` rounds due times down to the
    period's resolution (day, hour, minute or second) as Celery's ``delta_resolution`` does."""

    relative = False

    def __init__(
        self,
        run_every: float | timedelta | None = None,
        relative: bool = False,
        nowfun: Callable[[], datetime] | None = None,
        app: Any = None,
    ) -> None:
        self.run_every = _maybe_timedelta(run_every)
        self.relative = relative
        super().__init__(nowfun=nowfun, app=app)

    @property
    def seconds(self) -> float:
        return max(self.run_every.total_seconds(), 0) if self.run_every is not None else 0.0

    def to_spec(self, timezone: str | None = None) -> IntervalSpec:
        if self.run_every is None:
            raise ConfigurationError("schedule: run_every is required")
        align = _resolution(self.run_every) if self.relative else None
        return IntervalSpec.of(self.run_every, align=align, timezone=timezone or self.tz)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        """Time from now until the run after ``last_run_at``; a relative schedule is due at a local clock
        boundary of the app's timezone, chosen across DST changes as Celery 5.7 does (``_relative_deadline``)."""
        if not self.relative or self.run_every is None:
            return super().remaining_estimate(last_run_at)
        zone = self.tzinfo
        due = relative_due(_in_zone(last_run_at, zone), self.run_every)
        return due - _in_zone(self.now(), zone)

    def is_due(self, last_run_at: datetime) -> schedstate:
        """``(True, seconds)`` when due, else ``(False, seconds left)``, like Celery."""
        remaining = max(self.remaining_estimate(last_run_at).total_seconds(), 0)
        if remaining > 0:
            return schedstate(False, remaining)
        return schedstate(True, self._next_check_when_due())

    def _next_check_when_due(self) -> float:
        """Seconds to the next run once this one is due: the interval, or for a relative schedule the time to
        its next clock boundary counted from now (a DST day is 23 or 25 hours; a late run realigns)."""
        if self.relative:
            following = self.remaining_estimate(self.now()).total_seconds()
            if following > 0:
                return following
        return self.seconds

    def __repr__(self) -> str:
        return f"<freq: {self.seconds:.2f} seconds>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, schedule):
            return self.run_every == other.run_every
        return self.run_every == other

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__class__, (self.run_every, self.relative, self.nowfun)


class crontab(BaseSchedule):  # noqa: N801 - Celery's public name
    """Celery's crontab: field sets, day-of-month AND day-of-week AND month (unlike cron's OR).

    ``crontab(0, 0, day_of_week='mon', day_of_month='1-7')`` is the first Monday of each month;
    ``crontab(hour=7)`` fires every minute from 07:00 to 07:59.
    """

    def __init__(
        self,
        minute: Any = "*",
        hour: Any = "*",
        day_of_week: Any = "*",
        day_of_month: Any = "*",
        month_of_year: Any = "*",
        **kwargs: Any,
    ) -> None:
        self._orig_minute = "*" if minute is None else minute
        self._orig_hour = "*" if hour is None else hour
        self._orig_day_of_week = "*" if day_of_week is None else day_of_week
        self._orig_day_of_month = "*" if day_of_month is None else day_of_month
        self._orig_month_of_year = "*" if month_of_year is None else month_of_year
        self._orig_kwargs = kwargs
        self.minute = _expand("minute", self._orig_minute, 60)
        self.hour = _expand("hour", self._orig_hour, 24)
        self.day_of_week = _expand("day_of_week", self._orig_day_of_week, 7)
        self.day_of_month = _expand("day_of_month", self._orig_day_of_month, 31, 1)
        self.month_of_year = _expand("month_of_year", self._orig_month_of_year, 12, 1)
        try:  # impossible day/month combinations fail at construction, as in Celery
            self._spec = self._build_spec("UTC")
        except ConfigurationError as exc:
            raise ValueError(f"Invalid crontab pattern: {str(exc).removeprefix('crontab: ')}") from None
        super().__init__(**kwargs)

    @classmethod
    def from_string(cls, cron: str, **kwargs: Any) -> crontab:
        """Build from a standard cron line in cron order: ``'minute hour day-of-month month day-of-week'``."""
        fields = cron.split()
        if len(fields) != 5:
            raise ValueError(f"Invalid crontab string: {cron!r} (expected 5 fields)")
        minute, hour, dom, month, dow = fields
        return cls(minute, hour, day_of_week=dow, day_of_month=dom, month_of_year=month, **kwargs)

    def _build_spec(self, zone: str) -> CrontabSpec:
        fields = (self.minute, self.hour, self.day_of_week, self.day_of_month, self.month_of_year)
        minute, hour, dow, dom, month = (frozenset(values) for values in fields)
        return CrontabSpec(minute, hour, dow, dom, month, timezone=zone)

    def to_spec(self, timezone: str | None = None) -> CrontabSpec:
        zone = timezone or self.tz
        return self._spec if zone == self._spec.timezone else self._build_spec(zone)

    def is_due(self, last_run_at: datetime) -> schedstate:
        """``(due, seconds until the next run)``; when due, counted from now (Celery's crontab rule)."""
        remaining = max(self.remaining_estimate(last_run_at).total_seconds(), 0)
        if remaining == 0:
            return schedstate(True, max(self.remaining_estimate(self.now()).total_seconds(), 0))
        return schedstate(False, remaining)

    def __repr__(self) -> str:
        return (
            f"<crontab: {self._orig_minute} {self._orig_hour} {self._orig_day_of_month} "
            f"{self._orig_month_of_year} {self._orig_day_of_week} (m/h/dM/MY/d)>"
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, crontab):
            same = all(
                getattr(other, name) == getattr(self, name)
                for name in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
            )
            return same and super().__eq__(other)
        return NotImplemented

    def __reduce__(self) -> tuple[Any, ...]:
        fields = (
            self._orig_minute,
            self._orig_hour,
            self._orig_day_of_week,
            self._orig_day_of_month,
            self._orig_month_of_year,
        )
        return self.__class__, fields, self._orig_kwargs

    def __setstate__(self, state: dict[str, Any]) -> None:
        BaseSchedule.__init__(self, **state)


def maybe_schedule(value: Any, relative: bool = False, app: Any = None) -> Any:
    """Celery's coercion of a ``beat_schedule`` value: number/timedelta -> ``schedule``; else as given."""
    if value is None:
        return None
    if isinstance(value, numbers.Number):
        value = timedelta(seconds=float(value))  # type: ignore[arg-type]
    if isinstance(value, timedelta):
        return schedule(value, relative, app=app)
    value.app = app
    return value


def _maybe_timedelta(value: float | timedelta | None) -> timedelta | None:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    return value  # type: ignore[return-value]


def _resolution(period: timedelta) -> str:
    """The unit Celery rounds a relative schedule's due time down to (``delta_resolution``)."""
    seconds = max(period.total_seconds(), 0)
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            return unit
    return "second"


def __getattr__(name: str) -> Any:
    """``solar`` is left out: Celery computes it with ephem, and an approximation would fire at
    different times than the schedule it replaces. Importing it says so instead of a bare ImportError."""
    if name == "solar":
        raise ImportError(
            "taskora.compat.schedules.solar is not supported: solar schedules need the ephem "
            "ephemeris Celery uses; use a crontab near the event time instead"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
