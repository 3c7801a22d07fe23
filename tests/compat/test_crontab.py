"""Celery's ``crontab``/``schedule`` on native specs: every field syntax of celery-surface §7.3, checked
against hand-written sets and against a brute-force minute-by-minute walk with Celery's AND rule.

Times are injected (``nowfun``, explicit epoch ms); nothing reads the wall clock.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from taskora.compat.schedules import (
    CELERY_ON_MISSED,
    ParseException,
    crontab,
    crontab_parser,
    maybe_schedule,
    schedstate,
    schedule,
)

from taskora.errors import ConfigurationError
from taskora.scheduler import CronSpec, CrontabSpec, IntervalSpec, plan_due_runs

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ALL_MINUTES, ALL_HOURS = set(range(60)), set(range(24))
ALL_DOW, ALL_DOM, ALL_MONTHS = set(range(7)), set(range(1, 32)), set(range(1, 13))


def to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def dow(moment: datetime) -> int:
    """Day of week with Sunday = 0, computed independently of the code under test."""
    return moment.isoweekday() % 7


# --------------------------------------------------------------------------- field syntax -> sets

SYNTAX_CASES: list[tuple[dict[str, Any], str, set[int]]] = [
    ({}, "minute", ALL_MINUTES),  # crontab() = every minute
    ({"minute": "*"}, "minute", ALL_MINUTES),
    ({"minute": "5"}, "minute", {5}),
    ({"minute": 5}, "minute", {5}),  # int given directly
    ({"minute": None}, "minute", ALL_MINUTES),
    ({"minute": "0,15,45"}, "minute", {0, 15, 45}),
    ({"minute": "10-14"}, "minute", {10, 11, 12, 13, 14}),
    ({"minute": "*/15"}, "minute", {0, 15, 30, 45}),
    ({"minute": "1-30/5"}, "minute", {1, 6, 11, 16, 21, 26}),
    ({"minute": "0,15-17,*/20"}, "minute", {0, 15, 16, 17, 20, 40}),
    ({"minute": "55-5"}, "minute", {55, 56, 57, 58, 59, 0, 1, 2, 3, 4, 5}),  # wraps past 59
    ({"minute": {0, 30}}, "minute", {0, 30}),  # set given directly
    ({"minute": [1, 2, 3]}, "minute", {1, 2, 3}),  # list given directly
    ({"minute": range(0, 60, 20)}, "minute", {0, 20, 40}),  # any iterable
    ({"hour": 7}, "hour", {7}),
    ({"hour": "22-2"}, "hour", {22, 23, 0, 1, 2}),  # wrap-around range
    ({"hour": "22-2/2"}, "hour", {22, 0, 2}),  # wrap-around range with a step
    ({"hour": "*/3"}, "hour", {0, 3, 6, 9, 12, 15, 18, 21}),
    ({"hour": "0,8-17/2"}, "hour", {0, 8, 10, 12, 14, 16}),
    ({"day_of_week": "mon-fri"}, "day_of_week", {1, 2, 3, 4, 5}),
    ({"day_of_week": "fri-mon"}, "day_of_week", {5, 6, 0, 1}),  # wrap-around day names
    ({"day_of_week": "sat,sun"}, "day_of_week", {6, 0}),
    ({"day_of_week": "Monday"}, "day_of_week", {1}),  # full name, any case
    ({"day_of_week": "SUN"}, "day_of_week", {0}),
    ({"day_of_week": "*/2"}, "day_of_week", {0, 2, 4, 6}),  # Sun, Tue, Thu, Sat
    ({"day_of_week": "0"}, "day_of_week", {0}),
    ({"day_of_week": "1-5"}, "day_of_week", {1, 2, 3, 4, 5}),
    ({"day_of_month": "*/3"}, "day_of_month", {1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31}),  # from the minimum, 1
    ({"day_of_month": "2-30/2"}, "day_of_month", set(range(2, 31, 2))),
    ({"day_of_month": "1-7,15-21"}, "day_of_month", set(range(1, 8)) | set(range(15, 22))),
    ({"day_of_month": "28-3"}, "day_of_month", {28, 29, 30, 31, 1, 2, 3}),
    ({"month_of_year": "jan-mar"}, "month_of_year", {1, 2, 3}),
    ({"month_of_year": "nov-feb"}, "month_of_year", {11, 12, 1, 2}),  # wrap-around month names
    ({"month_of_year": "*/3"}, "month_of_year", {1, 4, 7, 10}),
    ({"month_of_year": "2-12/2"}, "month_of_year", {2, 4, 6, 8, 10, 12}),
    ({"month_of_year": "December"}, "month_of_year", {12}),
    ({"month_of_year": "JUN,aug"}, "month_of_year", {6, 8}),
]


@pytest.mark.parametrize(("kwargs", "field", "expected"), SYNTAX_CASES)
def test_field_syntax_expands_like_celery(kwargs: dict[str, Any], field: str, expected: set[int]):
    entry = crontab(**kwargs)
    assert getattr(entry, field) == expected
    defaults = {"minute": ALL_MINUTES, "hour": ALL_HOURS, "day_of_week": ALL_DOW,
                "day_of_month": ALL_DOM, "month_of_year": ALL_MONTHS}
    for other, full in defaults.items():
        if other != field:
            assert getattr(entry, other) == full, other


def test_positional_order_is_minute_hour_day_of_week_not_cron_order():
    entry = crontab(30, 7, 1)
    assert (entry.minute, entry.hour, entry.day_of_week, entry.day_of_month) == ({30}, {7}, {1}, ALL_DOM)
    entry = crontab(0, 0, "mon", "1-7", "jan")
    assert (entry.day_of_week, entry.day_of_month, entry.month_of_year) == ({1}, set(range(1, 8)), {1})


def test_from_string_takes_standard_cron_order():
    entry = crontab.from_string("15 9 1-7 jan mon")
    assert (entry.minute, entry.hour, entry.day_of_month, entry.month_of_year, entry.day_of_week) == (
        {15}, {9}, set(range(1, 8)), {1}, {1}
    )
    with pytest.raises(ValueError, match="Invalid crontab string"):
        crontab.from_string("* * * *")


def test_parser_is_usable_on_its_own():
    assert crontab_parser(60).parse("*/15") == {0, 15, 30, 45}
    assert crontab_parser(31, 1).parse("*/10") == {1, 11, 21, 31}
    assert crontab_parser(7).parse("fri-mon") == {5, 6, 0, 1}


# --------------------------------------------------------------------------- bad fields


@pytest.mark.parametrize(
    ("kwargs", "field", "error"),
    [
        ({"day_of_week": 7}, "day_of_week", ValueError),  # Sunday is 0; 7 is not accepted
        ({"day_of_week": "7"}, "day_of_week", ValueError),
        ({"day_of_week": "sun-7"}, "day_of_week", ValueError),
        ({"minute": 60}, "minute", ValueError),
        ({"minute": "60"}, "minute", ValueError),
        ({"hour": "24"}, "hour", ValueError),
        ({"hour": [1, 25]}, "hour", ValueError),
        ({"day_of_month": 0}, "day_of_month", ValueError),
        ({"day_of_month": "32"}, "day_of_month", ValueError),
        ({"month_of_year": 13}, "month_of_year", ValueError),
        ({"month_of_year": "0"}, "month_of_year", ValueError),
        ({"minute": "5/15"}, "minute", ValueError),  # N/S without a range
        ({"minute": "*/0"}, "minute", ValueError),  # step 0
        ({"minute": "1-30/x"}, "minute", ValueError),
        ({"minute": "*/"}, "minute", ParseException),
        ({"minute": "-5"}, "minute", ParseException),  # negatives
        ({"hour": "1--5"}, "hour", ParseException),
        ({"minute": "1,,2"}, "minute", ParseException),
        ({"minute": ""}, "minute", ParseException),
        ({"hour": "noon"}, "hour", ValueError),
        ({"day_of_week": "funday"}, "day_of_week", ValueError),
        ({"minute": "1 - 5"}, "minute", ValueError),
        ({"minute": ["a"]}, "minute", ValueError),
        ({"minute": 1.5}, "minute", TypeError),
    ],
)
def test_invalid_fields_raise_naming_the_field(kwargs: dict[str, Any], field: str, error: type[Exception]):
    with pytest.raises(error, match=field):
        crontab(**kwargs)


def test_parse_exception_is_a_value_error():
    assert issubclass(ParseException, ValueError)


def test_impossible_day_and_month_fails_at_construction():
    with pytest.raises(ValueError, match="day_of_month"):
        crontab(0, 0, day_of_month=31, month_of_year=2)
    with pytest.raises(ValueError, match="day_of_month"):
        crontab(0, 0, day_of_month="30,31", month_of_year="feb")
    crontab(0, 0, day_of_month=29, month_of_year=2)  # leap days exist


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        crontab(minute=0, second=5)


# --------------------------------------------------------------------------- brute force


def brute_force(predicate: Callable[[datetime], bool], start: datetime, end: datetime) -> list[datetime]:
    """Every whole minute in ``(start, end]`` for which ``predicate`` holds: the independent oracle."""
    out, at = [], start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while at <= end:
        if predicate(at):
            out.append(at)
        at += timedelta(minutes=1)
    return out


def spec_fires(entry: crontab, start: datetime, end: datetime, tz: str = "UTC") -> list[datetime]:
    spec, out = entry.to_spec(tz), []
    at = spec.next_after(to_ms(start))
    while at <= to_ms(end):
        out.append(EPOCH + timedelta(milliseconds=at))
        at = spec.next_after(at)
    return out


D = datetime
BRUTE_CASES: list[tuple[str, crontab, Callable[[datetime], bool], datetime, datetime]] = [
    ("every minute", crontab(), lambda t: True, D(2024, 1, 1, 10, tzinfo=UTC), D(2024, 1, 1, 13, tzinfo=UTC)),
    ("hour=7 is a whole hour", crontab(hour=7), lambda t: t.hour == 7,
     D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 3, tzinfo=UTC)),
    ("*/15", crontab(minute="*/15"), lambda t: t.minute % 15 == 0,
     D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 2, tzinfo=UTC)),
    ("1-30/5 in office hours", crontab(minute="1-30/5", hour="9-17"),
     lambda t: t.minute in (1, 6, 11, 16, 21, 26) and 9 <= t.hour <= 17,
     D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 3, tzinfo=UTC)),
    ("hour wrap 22-2", crontab(minute=0, hour="22-2"), lambda t: t.minute == 0 and (t.hour >= 22 or t.hour <= 2),
     D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 4, tzinfo=UTC)),
    ("minute wrap 55-5 with step", crontab(minute="55-5/2", hour=3),
     lambda t: t.hour == 3 and t.minute in (55, 57, 59, 1, 3, 5), D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 3, tzinfo=UTC)),
    ("day wrap fri-mon", crontab(0, 0, day_of_week="fri-mon"),
     lambda t: t.hour == 0 and t.minute == 0 and t.weekday() in (4, 5, 6, 0),
     D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 22, tzinfo=UTC)),
    ("first Monday of the month", crontab(0, 0, day_of_week="mon", day_of_month="1-7"),
     lambda t: t.hour == 0 and t.minute == 0 and t.weekday() == 0 and t.day <= 7,
     D(2024, 1, 1, tzinfo=UTC) - timedelta(minutes=1), D(2024, 5, 1, tzinfo=UTC)),
    ("first and third Monday", crontab(30, 8, day_of_week=1, day_of_month="1-7,15-21"),
     lambda t: (t.hour, t.minute) == (8, 30) and t.weekday() == 0 and (t.day <= 7 or 15 <= t.day <= 21),
     D(2024, 1, 1, tzinfo=UTC), D(2024, 3, 1, tzinfo=UTC)),
    ("Friday the 13th", crontab(0, 12, day_of_week="fri", day_of_month=13),
     lambda t: (t.hour, t.minute) == (12, 0) and t.weekday() == 4 and t.day == 13,
     D(2024, 9, 1, tzinfo=UTC), D(2025, 7, 1, tzinfo=UTC)),
    ("*/2 days of week", crontab(30, 6, day_of_week="*/2"),
     lambda t: (t.hour, t.minute) == (6, 30) and dow(t) in (0, 2, 4, 6),
     D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 16, tzinfo=UTC)),
    ("*/10 days of month in jan-mar", crontab(0, 12, day_of_month="*/10", month_of_year="jan-mar"),
     lambda t: (t.hour, t.minute) == (12, 0) and t.day in (1, 11, 21, 31) and t.month <= 3,
     D(2023, 12, 1, tzinfo=UTC), D(2024, 4, 15, tzinfo=UTC)),
    ("month wrap nov-feb, 29th", crontab(0, 0, day_of_month=29, month_of_year="nov-feb"),
     lambda t: (t.hour, t.minute) == (0, 0) and t.day == 29 and t.month in (11, 12, 1, 2),
     D(2023, 10, 1, tzinfo=UTC), D(2024, 3, 15, tzinfo=UTC)),
    ("sets given directly", crontab(minute={0, 30}, hour=[9, 17], day_of_week=(1, 2, 3, 4, 5)),
     lambda t: t.minute in (0, 30) and t.hour in (9, 17) and t.weekday() < 5,
     D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 9, tzinfo=UTC)),
    ("weekend every six hours", crontab(minute=15, hour="0-23/6", day_of_week="sat,sun"),
     lambda t: t.minute == 15 and t.hour % 6 == 0 and t.weekday() >= 5,
     D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 16, tzinfo=UTC)),
    ("from_string weekdays", crontab.from_string("0 9 * * mon-fri"),
     lambda t: (t.hour, t.minute) == (9, 0) and t.weekday() < 5, D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 16, tzinfo=UTC)),
]


@pytest.mark.parametrize(
    ("entry", "predicate", "start", "end"), [case[1:] for case in BRUTE_CASES], ids=[case[0] for case in BRUTE_CASES]
)
def test_crontab_fires_exactly_when_brute_force_says(
    entry: crontab, predicate: Callable[[datetime], bool], start: datetime, end: datetime
):
    expected = brute_force(predicate, start, end)
    assert expected, "the window must contain fires, or the test proves nothing"
    assert spec_fires(entry, start, end) == expected


def test_crontab_in_a_zone_matches_brute_force_on_local_time():
    zone = ZoneInfo("America/New_York")
    entry = crontab(0, "9,17", day_of_week="mon-fri")
    start, end = D(2024, 6, 1, tzinfo=UTC), D(2024, 6, 15, tzinfo=UTC)

    def on_local_clock(t: datetime) -> bool:
        here = t.astimezone(zone)
        return here.minute == 0 and here.hour in (9, 17) and here.weekday() < 5

    assert spec_fires(entry, start, end, "America/New_York") == brute_force(on_local_clock, start, end)


def test_and_semantics_differ_from_standard_cron_or():
    entry = crontab(0, 0, day_of_week="mon", day_of_month="1-7")
    spec = entry.to_spec("UTC")
    assert spec.standard_cron() is None  # cron would OR the two day fields
    assert "cron" not in spec.to_wire()
    jan_2nd = to_ms(D(2024, 1, 2, tzinfo=UTC))  # a Tuesday inside 1-7
    assert CronSpec("0 0 1-7 * 1").next_after(jan_2nd - 1) == jan_2nd  # cron: fires
    assert spec.next_after(jan_2nd - 1) == to_ms(D(2024, 2, 5, tzinfo=UTC))  # Celery: next first Monday


@pytest.mark.parametrize(
    "entry",
    [
        crontab(minute=0, hour="22-2"),
        crontab(0, 0, day_of_week="fri-mon"),
        crontab(minute="*/15", hour="9-17", day_of_week="mon-fri"),
        crontab(0, 12, day_of_month="*/10", month_of_year="feb-mar,jan"),
        crontab(minute="55-5/2", hour="3,4"),
    ],
)
def test_expressible_crontabs_carry_an_equivalent_cron_string(entry: crontab):
    spec = entry.to_spec("UTC")
    cron = spec.to_wire()["cron"]
    start, end = D(2024, 1, 1, tzinfo=UTC), D(2024, 1, 8, tzinfo=UTC)
    plain = CronSpec(cron)
    as_cron, current = [], plain.next_after(to_ms(start))
    while current <= to_ms(end):
        as_cron.append(EPOCH + timedelta(milliseconds=current))
        current = plain.next_after(current)
    assert as_cron == spec_fires(entry, start, end)


# --------------------------------------------------------------------------- schedule()


def test_schedule_accepts_seconds_and_timedelta():
    assert schedule(30).run_every == timedelta(seconds=30)
    assert schedule(timedelta(minutes=5)).seconds == 300
    assert schedule(2.5).to_spec("UTC") == IntervalSpec(2500)
    assert schedule(30) == schedule(timedelta(seconds=30)) == timedelta(seconds=30)
    assert repr(schedule(30)) == "<freq: 30.00 seconds>"


@pytest.mark.parametrize(
    ("period", "unit", "start", "first"),
    [
        (timedelta(days=1), "day", D(2024, 1, 1, 10, 17, tzinfo=UTC), D(2024, 1, 2, tzinfo=UTC)),
        (timedelta(hours=1), "hour", D(2024, 1, 1, 10, 17, 30, tzinfo=UTC), D(2024, 1, 1, 11, tzinfo=UTC)),
        (timedelta(hours=2), "hour", D(2024, 1, 1, 10, 17, tzinfo=UTC), D(2024, 1, 1, 12, tzinfo=UTC)),
        (timedelta(minutes=5), "minute", D(2024, 1, 1, 10, 17, 45, tzinfo=UTC), D(2024, 1, 1, 10, 22, tzinfo=UTC)),
        (timedelta(seconds=30), "second", D(2024, 1, 1, 10, 17, 45, 500000, tzinfo=UTC),
         D(2024, 1, 1, 10, 18, 15, tzinfo=UTC)),
    ],
)
def test_relative_schedule_rounds_down_to_the_period_resolution(
    period: timedelta, unit: str, start: datetime, first: datetime
):
    entry = schedule(period, relative=True)
    assert entry.to_spec("UTC").align == unit
    assert entry.first_fire_ms(to_ms(start)) == to_ms(first)


def test_schedule_without_a_period_cannot_become_a_spec():
    with pytest.raises(ConfigurationError, match="run_every"):
        schedule().to_spec("UTC")
    with pytest.raises(ConfigurationError, match="every"):
        schedule(0).to_spec("UTC")


NOW = D(2024, 1, 1, 10, 0, 30, tzinfo=UTC)


def test_schedule_is_due_like_celery():
    entry = schedule(30, nowfun=lambda: NOW)
    assert entry.is_due(NOW - timedelta(seconds=10)) == schedstate(False, 20.0)
    assert entry.is_due(NOW - timedelta(seconds=30)) == schedstate(True, 30.0)
    assert entry.is_due(NOW - timedelta(hours=2)) == schedstate(True, 30.0)
    assert entry.remaining_estimate(NOW - timedelta(seconds=10)) == timedelta(seconds=20)


def test_naive_datetimes_are_utc():
    entry = schedule(30, nowfun=lambda: NOW.replace(tzinfo=None))
    assert entry.is_due(NOW.replace(tzinfo=None) - timedelta(seconds=10)) == schedstate(False, 20.0)


# --------------------------------------------------------------------------- crontab is_due / zones


def test_crontab_is_due_and_next_check_like_celery():
    every_hour = crontab(minute=0, nowfun=lambda: NOW)
    assert every_hour.is_due(D(2024, 1, 1, 9, 0, tzinfo=UTC)) == schedstate(True, 3570.0)  # due; next from now
    assert every_hour.is_due(D(2024, 1, 1, 10, 0, tzinfo=UTC)) == schedstate(False, 3570.0)
    assert every_hour.remaining_estimate(D(2024, 1, 1, 9, 0, tzinfo=UTC)) == timedelta(seconds=-30)


class _Conf:
    timezone = "Europe/Berlin"


class _App:
    conf = _Conf()


def test_crontab_uses_the_app_timezone_by_default():
    entry = crontab(minute=0, hour=9, app=_App())
    spec = entry.to_spec()
    assert spec.timezone == "Europe/Berlin"
    assert spec.next_after(to_ms(D(2024, 6, 1, 6, tzinfo=UTC))) == to_ms(D(2024, 6, 1, 7, tzinfo=UTC))
    assert entry.to_spec("UTC").timezone == "UTC"  # an explicit zone wins


def test_crontab_equality_and_pickling():
    entry = crontab(0, "22-2", "fri-mon")
    assert entry == crontab("0", {22, 23, 0, 1, 2}, [5, 6, 0, 1])
    assert entry != crontab(0, "22-2", "fri-sun")
    restored = pickle.loads(pickle.dumps(entry))
    assert restored == entry and restored.hour == {22, 23, 0, 1, 2}
    assert repr(entry) == "<crontab: 0 22-2 * * fri-mon (m/h/dM/MY/d)>"


def test_crontab_spec_is_the_native_kind():
    assert isinstance(crontab(0, 0).to_spec("UTC"), CrontabSpec)


# --------------------------------------------------------------------------- beat's first run and missed runs


START = to_ms(D(2024, 1, 1, 10, 17, 20, tzinfo=UTC))


def test_new_interval_entry_first_fires_one_interval_after_start():
    assert schedule(30).first_fire_ms(START) == START + 30_000
    assert maybe_schedule(timedelta(minutes=5)).first_fire_ms(START) == START + 300_000


def test_new_crontab_entry_first_fires_at_its_next_matching_time():
    assert crontab(minute=0).first_fire_ms(START) == to_ms(D(2024, 1, 1, 11, tzinfo=UTC))
    on_the_hour = to_ms(D(2024, 1, 1, 11, tzinfo=UTC))
    assert crontab(minute=0).first_fire_ms(on_the_hour) == to_ms(D(2024, 1, 1, 12, tzinfo=UTC))


def test_missed_runs_collapse_to_one_immediate_run():
    spec = crontab(minute="*/10").to_spec("UTC")
    stored_next = to_ms(D(2024, 1, 1, 8, tzinfo=UTC))
    plan = plan_due_runs(spec, stored_next, START, CELERY_ON_MISSED)
    assert len(plan.fire_times) == 1
    assert plan.next_run_ms == to_ms(D(2024, 1, 1, 10, 20, tzinfo=UTC))


def test_maybe_schedule_coerces_like_celery():
    assert maybe_schedule(None) is None
    assert isinstance(maybe_schedule(10), schedule) and maybe_schedule(10).run_every == timedelta(seconds=10)
    assert maybe_schedule(timedelta(hours=1), relative=True).relative is True
    entry = crontab(minute=0)
    app = _App()
    assert maybe_schedule(entry, app=app) is entry and entry.app is app


def test_solar_is_left_out_with_a_clear_message():
    with pytest.raises(ImportError, match="solar"):
        from taskora.compat.schedules import solar  # noqa: F401
