"""Schedule specs: next run, DST policy, missed-run policy and the ``taskora:schedules`` JSON.

All times are injected epoch milliseconds; nothing reads the wall clock.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from taskora.errors import ConfigurationError
from taskora.scheduler import (
    CATCH_UP_HARD_CAP,
    CronSpec,
    CrontabSpec,
    DueRuns,
    IntervalSpec,
    MissedRunPolicy,
    ScheduleConfig,
    make_spec,
    plan_due_runs,
    spec_from_wire,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
MINUTE, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def ms(*parts: int, tz: str = "UTC", fold: int = 0) -> int:
    """Epoch ms of a wall time in ``tz`` (``fold=1``: the second pass of a repeated hour)."""
    moment = datetime(*parts, tzinfo=ZoneInfo(tz), fold=fold)
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(milliseconds=1)


def local(at: int, tz: str) -> datetime:
    return datetime.fromtimestamp(at / 1000, ZoneInfo(tz))


def fires(spec: CronSpec | CrontabSpec | IntervalSpec, start: int, end: int) -> list[int]:
    """Every fire time in ``(start, end]`` by iterating ``next_after``."""
    out, at = [], spec.next_after(start)
    while at <= end:
        out.append(at)
        at = spec.next_after(at)
    return out


# --------------------------------------------------------------------------- missed-run policy


@pytest.mark.parametrize(
    ("text", "mode", "limit", "max_runs"),
    [
        ("skip", "skip", None, 1),
        ("catch-up", "catch-up", None, CATCH_UP_HARD_CAP),
        ("catch-up-limit:3", "catch-up-limit", 3, 3),
        ("catch-up-limit:1", "catch-up-limit", 1, 1),
        (f"catch-up-limit:{CATCH_UP_HARD_CAP * 5}", "catch-up-limit", CATCH_UP_HARD_CAP * 5, CATCH_UP_HARD_CAP),
    ],
)
def test_policy_parses_the_seed_strings_and_round_trips(text: str, mode: str, limit: int | None, max_runs: int):
    policy = MissedRunPolicy.parse(text)
    assert (policy.mode, policy.limit, policy.max_runs) == (mode, limit, max_runs)
    assert str(policy) == text
    assert MissedRunPolicy.parse(policy) is policy


def test_policy_defaults_to_skip():
    assert MissedRunPolicy.parse(None) == MissedRunPolicy("skip")


@pytest.mark.parametrize(
    "bad", ["catchup", "Skip", "catch-up-limit:0", "catch-up-limit:", "catch-up-limit:x", "catch-up-limit:-2", 3, ""]
)
def test_bad_policy_is_rejected_naming_the_value(bad: object):
    with pytest.raises(ConfigurationError, match="on_missed") as err:
        MissedRunPolicy.parse(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(err.value)


# --------------------------------------------------------------------------- plan_due_runs


T0 = ms(2024, 1, 1, 0, 0)
EVERY_5M = IntervalSpec.of("5m")


def test_not_yet_due_dispatches_nothing_and_keeps_the_next_run():
    assert plan_due_runs(EVERY_5M, T0, T0 - 1, "catch-up") == DueRuns((), T0)


def test_due_on_time_fires_once_and_moves_one_period_on():
    assert plan_due_runs(EVERY_5M, T0, T0, "skip") == DueRuns((T0,), T0 + 5 * MINUTE)
    late_by_a_tick = plan_due_runs(EVERY_5M, T0, T0 + 900, "skip")
    assert late_by_a_tick == DueRuns((T0,), T0 + 5 * MINUTE)  # stays on the grid, no drift


def test_skip_fires_the_latest_due_time_once_then_resumes_after_now():
    # Given a 5-minute schedule that was due at T0 and a scheduler back at T0 + 31 min (7 due times)
    plan = plan_due_runs(EVERY_5M, T0, T0 + 31 * MINUTE, "skip")
    # Then one run, for the latest due time, and the next run is the first grid time after now
    assert plan.fire_times == (T0 + 30 * MINUTE,)
    assert plan.next_run_ms == T0 + 35 * MINUTE
    assert plan.dropped is True


def test_catch_up_fires_every_missed_time_in_order():
    plan = plan_due_runs(EVERY_5M, T0, T0 + 31 * MINUTE, "catch-up")
    assert plan.fire_times == tuple(T0 + k * 5 * MINUTE for k in range(7))
    assert plan.next_run_ms == T0 + 35 * MINUTE
    assert plan.dropped is False


def test_catch_up_limit_fires_only_the_last_n():
    plan = plan_due_runs(EVERY_5M, T0, T0 + 31 * MINUTE, "catch-up-limit:3")
    assert plan.fire_times == (T0 + 20 * MINUTE, T0 + 25 * MINUTE, T0 + 30 * MINUTE)
    assert plan.next_run_ms == T0 + 35 * MINUTE
    assert plan.dropped is True


def test_catch_up_limit_larger_than_the_backlog_fires_all():
    plan = plan_due_runs(EVERY_5M, T0, T0 + 11 * MINUTE, "catch-up-limit:10")
    assert plan == DueRuns((T0, T0 + 5 * MINUTE, T0 + 10 * MINUTE), T0 + 15 * MINUTE, dropped=False)


def test_catch_up_is_capped_for_a_huge_backlog():
    # A 1-second schedule whose scheduler was down for two hours: 7,201 due times
    plan = plan_due_runs(IntervalSpec.of(1), T0, T0 + 2 * HOUR, "catch-up")
    assert len(plan.fire_times) == CATCH_UP_HARD_CAP
    assert plan.fire_times[-1] == T0 + 2 * HOUR
    assert plan.fire_times[0] == T0 + 2 * HOUR - (CATCH_UP_HARD_CAP - 1) * 1000
    assert plan.next_run_ms == T0 + 2 * HOUR + 1000
    assert plan.dropped is True


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("skip", (5,)),
        ("catch-up", (0, 1, 2, 3, 4, 5)),
        ("catch-up-limit:2", (4, 5)),
    ],
)
def test_policies_on_a_cron_schedule(policy: str, expected: tuple[int, ...]):
    hourly = CronSpec("0 * * * *")
    plan = plan_due_runs(hourly, ms(2024, 1, 1, 0), ms(2024, 1, 1, 5, 30), policy)
    assert plan.fire_times == tuple(ms(2024, 1, 1, h) for h in expected)
    assert plan.next_run_ms == ms(2024, 1, 1, 6)


def test_cron_catch_up_is_capped_too():
    every_minute = CronSpec("* * * * *")
    plan = plan_due_runs(every_minute, ms(2024, 1, 1), ms(2024, 1, 2, 0, 0), "catch-up")
    assert len(plan.fire_times) == CATCH_UP_HARD_CAP
    assert plan.fire_times[-1] == ms(2024, 1, 2, 0, 0)
    assert list(plan.fire_times) == sorted(set(plan.fire_times))
    assert plan.fire_times[-1] - plan.fire_times[0] == (CATCH_UP_HARD_CAP - 1) * MINUTE
    assert plan.next_run_ms == ms(2024, 1, 2, 0, 1)


def test_stored_next_run_off_the_cron_grid_still_counts_as_due():
    # e.g. set by schedules.update() or by a TypeScript process: 00:10 for an hourly cron
    plan = plan_due_runs(CronSpec("0 * * * *"), ms(2024, 1, 1, 0, 10), ms(2024, 1, 1, 2, 5), "catch-up")
    assert plan.fire_times == (ms(2024, 1, 1, 0, 10), ms(2024, 1, 1, 1), ms(2024, 1, 1, 2))
    assert plan.next_run_ms == ms(2024, 1, 1, 3)


def test_due_with_no_cron_time_since_the_stored_run_fires_that_run_once():
    plan = plan_due_runs(CronSpec("0 9 * * *"), ms(2024, 1, 1, 9), ms(2024, 1, 1, 12), "catch-up")
    assert plan == DueRuns((ms(2024, 1, 1, 9),), ms(2024, 1, 2, 9), dropped=False)


def test_catch_up_over_fall_back_lists_a_wall_clock_time_once():
    daily = CronSpec("30 2 * * *", BERLIN)
    plan = plan_due_runs(daily, ms(2024, 10, 26, 2, 30, tz=BERLIN), ms(2024, 10, 28, 12, tz=BERLIN), "catch-up")
    assert plan.fire_times == (
        ms(2024, 10, 26, 2, 30, tz=BERLIN),
        ms(2024, 10, 27, 2, 30, tz=BERLIN),  # first pass only
        ms(2024, 10, 28, 2, 30, tz=BERLIN),
    )
    assert plan.next_run_ms == ms(2024, 10, 29, 2, 30, tz=BERLIN)


def test_catch_up_over_fall_back_keeps_every_real_hour_of_an_hourly_cron():
    start, end = ms(2024, 10, 27, tz=BERLIN), ms(2024, 10, 28, tz=BERLIN)
    plan = plan_due_runs(CronSpec("0 * * * *", BERLIN), start, end, "catch-up")
    assert len(plan.fire_times) == 26  # 25 hours that day, plus the next midnight
    assert {b - a for a, b in zip(plan.fire_times, plan.fire_times[1:], strict=False)} == {HOUR}


# --------------------------------------------------------------------------- interval specs


@pytest.mark.parametrize(
    ("every", "expected_ms"),
    [(30, 30_000), (1.5, 1_500), (timedelta(minutes=2), 120_000), ("500ms", 500), ("5m", 300_000), ("1d", DAY)],
)
def test_every_accepts_every_duration_form(every: object, expected_ms: int):
    spec = make_spec(every=every)  # type: ignore[arg-type]
    assert spec == IntervalSpec(expected_ms)
    assert spec.next_after(T0) == T0 + expected_ms


@pytest.mark.parametrize("every", [0, -5, "0s", "0.0001s", timedelta(0), True, "soon", None])
def test_non_positive_or_unreadable_every_is_rejected(every: object):
    with pytest.raises(ConfigurationError, match="every"):
        IntervalSpec.of(every)  # type: ignore[arg-type]


def test_aligned_interval_truncates_to_the_unit():
    hourly = IntervalSpec.of(timedelta(hours=1), align="hour")
    assert hourly.next_after(ms(2024, 1, 1, 10, 17, 30)) == ms(2024, 1, 1, 11)
    assert hourly.next_after(ms(2024, 1, 1, 11)) == ms(2024, 1, 1, 12)
    ninety = IntervalSpec.of(timedelta(minutes=90), align="hour")
    assert ninety.next_after(ms(2024, 1, 1, 10, 17)) == ms(2024, 1, 1, 11)
    assert ninety.next_after(ms(2024, 1, 1, 11)) == ms(2024, 1, 1, 12)  # Celery's rounding, not 12:30
    seconds = IntervalSpec.of(10, align="second")
    assert seconds.next_after(ms(2024, 1, 1) + 1_234) == ms(2024, 1, 1) + 11_000


@pytest.mark.parametrize(("day", "length_h"), [(date(2024, 3, 31), 23), (date(2024, 10, 27), 25)])
def test_day_aligned_interval_follows_local_midnight_across_dst(day: date, length_h: int):
    daily = IntervalSpec.of("1d", align="day", timezone=BERLIN)
    midnight = ms(day.year, day.month, day.day, tz=BERLIN)
    following = daily.next_after(midnight)
    assert following - midnight == length_h * HOUR
    assert local(following, BERLIN).time().isoformat() == "00:00:00"


def test_day_aligned_interval_starts_the_day_at_the_first_midnight_when_midnight_repeats():
    # America/Havana 2024-11-03: 01:00 CDT -> 00:00 CST, so 00:xx happens twice
    daily = IntervalSpec.of("1d", align="day", timezone="America/Havana")
    start = ms(2024, 11, 2, 1, 30, tz="America/Havana")  # + 24 h lands in the second 00:30
    assert daily.next_after(start) == ms(2024, 11, 3, 0, 0, tz="America/Havana", fold=0)


def test_aligned_interval_catch_up_with_a_long_backlog_keeps_the_latest_runs():
    hourly = IntervalSpec.of(timedelta(hours=1), align="hour")
    plan = plan_due_runs(hourly, ms(2023, 1, 1, 0), ms(2024, 1, 1, 5, 30), "catch-up-limit:3")
    assert plan.fire_times == (ms(2024, 1, 1, 3), ms(2024, 1, 1, 4), ms(2024, 1, 1, 5))
    assert plan.next_run_ms == ms(2024, 1, 1, 6)


def test_bad_align_is_rejected():
    with pytest.raises(ConfigurationError, match="align"):
        IntervalSpec(1000, align="week")


# --------------------------------------------------------------------------- cron specs


def test_cron_defaults_to_utc_and_is_strictly_after():
    spec = make_spec(cron="0 9 * * 1-5")
    assert spec == CronSpec("0 9 * * 1-5", "UTC")
    monday_nine = ms(2024, 1, 1, 9)
    assert spec.next_after(monday_nine - 1) == monday_nine
    assert spec.next_after(monday_nine) == ms(2024, 1, 2, 9)
    assert spec.next_after(ms(2024, 1, 5, 10)) == ms(2024, 1, 8, 9)  # Friday after nine -> Monday


def test_cron_in_a_zone_fires_on_local_time():
    spec = CronSpec("0 9 * * *", NEW_YORK)
    assert spec.next_after(ms(2024, 1, 15)) == ms(2024, 1, 15, 14)  # EST = UTC-5
    assert spec.next_after(ms(2024, 7, 15)) == ms(2024, 7, 15, 13)  # EDT = UTC-4


def test_six_field_cron_has_seconds_first():
    spec = CronSpec("30 0 9 * * *")
    assert spec.next_after(ms(2024, 1, 1)) == ms(2024, 1, 1, 9, 0, 30)
    every_ten = CronSpec("*/10 * * * * *")
    assert fires(every_ten, ms(2024, 1, 1), ms(2024, 1, 1, 0, 1)) == [ms(2024, 1, 1) + k * 10_000 for k in range(1, 7)]


def test_cron_aliases_are_accepted():
    assert CronSpec("@daily").next_after(ms(2024, 1, 1, 5)) == ms(2024, 1, 2)


# Spring forward, Europe/Berlin 2024-03-31: 02:00 CET -> 03:00 CEST (02:xx does not exist).
# Fall back, Europe/Berlin 2024-10-27: 03:00 CEST -> 02:00 CET (02:xx happens twice).
# Spring forward, America/New_York 2024-03-10 02:00 -> 03:00; fall back 2024-11-03 02:00 -> 01:00.
@pytest.mark.parametrize(
    ("expr", "tz", "start", "expected"),
    [
        # a wall-clock job in the skipped hour runs shifted forward by the gap
        ("30 2 * * *", BERLIN, ms(2024, 3, 30, 12, tz=BERLIN), [ms(2024, 3, 31, 1, 30), ms(2024, 4, 1, 0, 30)]),
        ("30 2 * * *", NEW_YORK, ms(2024, 3, 9, 12, tz=NEW_YORK), [ms(2024, 3, 10, 7, 30), ms(2024, 3, 11, 6, 30)]),
        # a wall-clock job in the repeated hour runs once, at the first pass
        ("30 2 * * *", BERLIN, ms(2024, 10, 26, 12, tz=BERLIN), [ms(2024, 10, 27, 0, 30), ms(2024, 10, 28, 1, 30)]),
        ("30 1 * * *", NEW_YORK, ms(2024, 11, 2, 12, tz=NEW_YORK), [ms(2024, 11, 3, 5, 30), ms(2024, 11, 4, 6, 30)]),
        # jobs for every hour follow elapsed time: both passes of the repeated hour, nothing invented
        ("0 * * * *", BERLIN, ms(2024, 10, 27, 0, 30, tz=BERLIN), [ms(2024, 10, 26, 23), ms(2024, 10, 27, 0),
                                                                 ms(2024, 10, 27, 1), ms(2024, 10, 27, 2)]),
        ("*/20 * * * *", BERLIN, ms(2024, 3, 31, 1, 30, tz=BERLIN), [ms(2024, 3, 31, 0, 40), ms(2024, 3, 31, 1, 0),
                                                                    ms(2024, 3, 31, 1, 20)]),
        ("0 * * * *", NEW_YORK, ms(2024, 3, 10, 0, 30, tz=NEW_YORK), [ms(2024, 3, 10, 6), ms(2024, 3, 10, 7),
                                                                     ms(2024, 3, 10, 8)]),
        ("15 * * * *", NEW_YORK, ms(2024, 11, 3, 0, 30, tz=NEW_YORK), [ms(2024, 11, 3, 5, 15), ms(2024, 11, 3, 6, 15),
                                                                      ms(2024, 11, 3, 7, 15), ms(2024, 11, 3, 8, 15)]),
    ],
)
def test_cron_across_dst_transitions(expr: str, tz: str, start: int, expected: list[int]):
    spec = CronSpec(expr, tz)
    got, at = [], start
    for _ in expected:
        at = spec.next_after(at)
        got.append(at)
    assert got == expected


def test_half_hour_dst_gap_shifts_by_the_gap_and_invents_nothing():
    # Australia/Lord_Howe 2024-10-06: 02:00 -> 02:30 (+10:30 -> +11:00), a 30-minute gap
    lord_howe = "Australia/Lord_Howe"
    every_20 = CronSpec("*/20 * * * *", lord_howe)
    got, at = [], ms(2024, 10, 6, 1, 30, tz=lord_howe)
    for _ in range(3):
        at = every_20.next_after(at)
        got.append(local(at, lord_howe).strftime("%H:%M"))
    assert got == ["01:40", "02:40", "03:00"]  # 02:00 and 02:20 do not exist and are not moved
    daily = CronSpec("10 2 * * *", lord_howe)
    assert local(daily.next_after(ms(2024, 10, 5, 12, tz=lord_howe)), lord_howe).strftime("%d %H:%M") == "06 02:40"


@pytest.mark.parametrize(
    ("tz", "inside", "expected_next"),
    [
        # asked from inside the second pass of the repeated hour: today's 01:30 already ran
        (NEW_YORK, ms(2024, 11, 3, 1, 10, tz=NEW_YORK, fold=1), ms(2024, 11, 4, 1, 30, tz=NEW_YORK)),
        # asked from the first pass, after 01:30 EDT: not again at 01:30 EST
        (NEW_YORK, ms(2024, 11, 3, 1, 45, tz=NEW_YORK, fold=0), ms(2024, 11, 4, 1, 30, tz=NEW_YORK)),
        # asked from the first pass before 01:30: the first-pass 01:30
        (NEW_YORK, ms(2024, 11, 3, 1, 10, tz=NEW_YORK, fold=0), ms(2024, 11, 3, 1, 30, tz=NEW_YORK, fold=0)),
    ],
)
def test_cron_next_after_from_inside_the_repeated_hour(tz: str, inside: int, expected_next: int):
    assert CronSpec("30 1 * * *", tz).next_after(inside) == expected_next


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK])
def test_daily_wall_clock_cron_fires_once_per_local_day_for_a_whole_year(tz: str):
    spec = CronSpec("30 2 * * *", tz)
    year = fires(spec, ms(2024, 1, 1, tz=tz), ms(2025, 1, 1, tz=tz))
    days = [local(at, tz).date() for at in year]
    assert len(days) == len(set(days)) == 366
    times = {local(at, tz).strftime("%H:%M") for at in year}
    assert times == {"02:30", "03:30"}  # 03:30 only on the spring-forward day
    shifted = [local(at, tz).date() for at in year if local(at, tz).hour == 3]
    assert shifted == [date(2024, 3, 31) if tz == BERLIN else date(2024, 3, 10)]


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [(BERLIN, date(2024, 3, 31), 23), (BERLIN, date(2024, 10, 27), 25),
     (NEW_YORK, date(2024, 3, 10), 23), (NEW_YORK, date(2024, 11, 3), 25)],
)
def test_hourly_cron_stays_one_hour_apart_across_a_transition_day(tz: str, day: date, hours: int):
    before, after = day - timedelta(days=2), day + timedelta(days=3)
    runs = fires(CronSpec("0 * * * *", tz), ms(before.year, before.month, before.day, tz=tz),
                 ms(after.year, after.month, after.day, tz=tz))
    assert {b - a for a, b in zip(runs, runs[1:], strict=False)} == {HOUR}
    assert len(runs) == 4 * 24 + hours


@pytest.mark.parametrize(
    "expr",
    ["61 * * * *", "* * *", "a b c d e", "0 0 * * 8", "*/0 * * * *", "0 0 1 1 * 2025 x", "", "   ", "H * * * *"],
)
def test_malformed_cron_is_rejected_naming_the_expression(expr: str):
    with pytest.raises(ConfigurationError, match="cron"):
        CronSpec(expr)


def test_cron_that_never_fires_is_rejected():
    with pytest.raises(ConfigurationError, match="never fires"):
        CronSpec("0 0 30 2 *")


def test_cron_type_is_checked():
    with pytest.raises(ConfigurationError, match="cron"):
        CronSpec(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("tz", ["Mars/Base", "utc", "", "../etc/passwd", 3])
def test_unknown_timezone_is_rejected(tz: object):
    with pytest.raises(ConfigurationError, match="timezone"):
        make_spec(cron="0 9 * * *", timezone=tz)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="timezone"):
        make_spec(every="1h", timezone=tz)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "word"), [({}, "neither"), ({"every": "1h", "cron": "0 * * * *"}, "both")]
)
def test_schedule_needs_exactly_one_of_every_and_cron(options: dict[str, str], word: str):
    with pytest.raises(ConfigurationError, match=f"exactly one of 'every' and 'cron' \\({word}"):
        make_spec(**options)


# --------------------------------------------------------------------------- crontab specs

FIRST_MONDAY = CrontabSpec(
    frozenset({0}), frozenset({0}), frozenset({1}), frozenset(range(1, 8)), frozenset(range(1, 13))
)


def test_crontab_spec_ands_the_day_fields():
    got = fires(FIRST_MONDAY, ms(2024, 1, 1) - 1, ms(2024, 6, 30))
    assert [local(at, "UTC").date() for at in got] == [
        date(2024, 1, 1), date(2024, 2, 5), date(2024, 3, 4), date(2024, 4, 1), date(2024, 5, 6), date(2024, 6, 3)
    ]


def test_crontab_spec_emits_cron_only_when_cron_means_the_same():
    assert FIRST_MONDAY.standard_cron() is None
    assert "cron" not in FIRST_MONDAY.to_wire()
    weekdays = CrontabSpec({0}, {9}, {1, 2, 3, 4, 5}, range(1, 32), range(1, 13))  # type: ignore[arg-type]
    assert weekdays.standard_cron() == "0 9 * * 1-5"
    assert weekdays.to_wire()["cron"] == "0 9 * * 1-5"
    odd = CrontabSpec({0, 15, 30, 45}, {1, 2, 5, 6, 7}, range(7), {1, 15}, {1, 2, 3})  # type: ignore[arg-type]
    assert odd.standard_cron() == "0,15,30,45 1,2,5-7 1,15 1-3 *"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (({60}, {0}, range(7), range(1, 32), range(1, 13)), "minute"),
        (({0}, {24}, range(7), range(1, 32), range(1, 13)), "hour"),
        (({0}, {0}, {7}, range(1, 32), range(1, 13)), "day_of_week"),
        (({0}, {0}, range(7), {0}, range(1, 13)), "day_of_month"),
        (({0}, {0}, range(7), range(1, 32), set()), "month_of_year"),
        (({0}, {0}, range(7), {30, 31}, {2}), "never occurs"),
    ],
)
def test_bad_crontab_sets_are_rejected(fields: tuple[object, ...], message: str):
    with pytest.raises(ConfigurationError, match=message):
        CrontabSpec(*fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- wire shape


def test_reads_what_typescript_taskora_writes():
    # Given entries exactly as taskora (TypeScript) stores them in taskora:schedules
    cron_entry = '{"task":"send-digest","overlap":false,"onMissed":"skip","cron":"0 8 * * 1","timezone":"UTC"}'
    every_entry = (
        '{"task":"cleanup-expired","overlap":false,"onMissed":"catch-up-limit:3","data":{"olderThan":"30d"},'
        '"every":21600000,"lastJobId":"0193-abc","lastRun":1700000000000}'
    )
    # Then they read back with their meaning intact
    cron_config = ScheduleConfig.from_json(cron_entry)
    assert cron_config.spec == CronSpec("0 8 * * 1", "UTC")
    assert (cron_config.task, cron_config.overlap, str(cron_config.on_missed)) == ("send-digest", False, "skip")
    every_config = ScheduleConfig.from_json(every_entry)
    assert every_config.spec == IntervalSpec(6 * HOUR)
    assert every_config.on_missed == MissedRunPolicy("catch-up-limit", 3)
    assert every_config.data == {"olderThan": "30d"}
    assert (every_config.last_run, every_config.last_job_id) == (1700000000000, "0193-abc")
    # And writing them back gives the same JSON object (no key added or lost)
    assert json.loads(every_config.to_json()) == json.loads(every_entry)
    assert json.loads(cron_config.to_json()) == json.loads(cron_entry)


def test_cron_without_timezone_reads_as_utc():
    assert spec_from_wire({"cron": "0 9 * * *"}) == CronSpec("0 9 * * *", "UTC")


@pytest.mark.parametrize(
    "spec",
    [
        IntervalSpec.of("30s"),
        IntervalSpec.of("30s", timezone=NEW_YORK),
        IntervalSpec.of("1d", align="day", timezone=BERLIN),
        CronSpec("0 9 * * 1-5", NEW_YORK),
        CronSpec("*/10 * * * * *"),
        FIRST_MONDAY,
        CrontabSpec({0}, {22, 23, 0, 1, 2}, {5, 6, 0, 1}, range(1, 32), range(1, 13), timezone=BERLIN),  # type: ignore[arg-type]
    ],
)
def test_every_spec_kind_round_trips(spec: IntervalSpec | CronSpec | CrontabSpec):
    config = ScheduleConfig("report", spec, on_missed="catch-up", overlap=True, data=[1, "x"], paused=True,
                            last_run=5, last_job_id="j1")
    again = ScheduleConfig.from_json(config.to_json())
    assert again == config
    assert again.spec.next_after(T0) == spec.next_after(T0)


def test_config_writes_only_what_is_set():
    wire = ScheduleConfig("t", IntervalSpec(1000)).to_wire()
    assert wire == {"task": "t", "overlap": False, "onMissed": "skip", "every": 1000}


def test_unknown_keys_survive_a_rewrite():
    raw = {
        "task": "proj.tasks.add", "overlap": False, "onMissed": "skip", "every": 30000,
        "args": [16, 16], "kwargs": {"z": 1}, "options": {"queue": "q"}, "futureField": {"a": 1},
    }
    config = ScheduleConfig.from_wire(raw)
    assert config.extra == {"args": [16, 16], "kwargs": {"z": 1}, "options": {"queue": "q"}, "futureField": {"a": 1}}
    from dataclasses import replace

    assert replace(config, last_run=7).to_wire() == {**raw, "lastRun": 7}


def test_crontab_entry_keeps_a_cron_copy_for_typescript_readers():
    spec = CrontabSpec({0}, {9}, {1, 2, 3, 4, 5}, range(1, 32), range(1, 13), timezone=NEW_YORK)  # type: ignore[arg-type]
    wire = ScheduleConfig("t", spec).to_wire()
    assert (wire["cron"], wire["timezone"]) == ("0 9 * * 1-5", NEW_YORK)
    assert wire["crontab"]["dayOfWeek"] == [1, 2, 3, 4, 5]
    # a reader that only knows "cron" (TypeScript taskora) computes the same fire times
    start, end = ms(2024, 3, 1, tz=NEW_YORK), ms(2024, 4, 1, tz=NEW_YORK)
    assert fires(CronSpec(wire["cron"], wire["timezone"]), start, end) == fires(spec, start, end)
    # and our reader prefers the crontab sets
    assert spec_from_wire(wire) == spec


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"overlap":false,"every":1000}', "task"),
        ('{"task":"t","onMissed":"skip"}', "every"),
        ('{"task":"t","every":0}', "every"),
        ('{"task":"t","every":1000,"onMissed":"sometimes"}', "on_missed"),
        ('{"task":"t","cron":"nope"}', "cron"),
        ('{"task":"t","cron":"0 * * * *","timezone":"Nowhere/City"}', "timezone"),
        ('{"task":"t","every":1000,"lastRun":"yesterday"}', "lastRun"),
        ('{"task":"t","crontab":{"minute":[0]}}', "crontab"),
        ("[1, 2]", "JSON object"),
        ("{not json", "not JSON"),
    ],
)
def test_malformed_stored_config_is_rejected_naming_the_problem(raw: str, message: str):
    with pytest.raises(ConfigurationError, match=message):
        ScheduleConfig.from_json(raw)


def test_config_accepts_the_policy_string_and_validates_it():
    assert ScheduleConfig("t", IntervalSpec(1000), on_missed="catch-up-limit:2").on_missed.limit == 2  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="on_missed"):
        ScheduleConfig("t", IntervalSpec(1000), on_missed="never")  # type: ignore[arg-type]
