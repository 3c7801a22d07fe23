"""Celery beat entries translated onto native schedules (compat/beat.py), and run by the
leader-elected scheduler for a real compat Celery app with injected (virtual) time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from taskora.compat import Celery
from taskora.compat.beat import celery_timezone, install_beat_schedule, translate_entry
from taskora.compat.schedules import crontab, schedule

from taskora.clock import VirtualClock
from taskora.errors import ConfigurationError
from taskora.scheduler import CrontabSpec, IntervalSpec
from taskora.scheduler.manager import run_id
from taskora.scheduler.runner import SchedulerRunner

BERLIN = ZoneInfo("Europe/Berlin")


def _ms(*args: int, zone: ZoneInfo = BERLIN) -> int:
    return int(datetime(*args, tzinfo=zone).timestamp() * 1000)


@pytest.mark.parametrize(
    ("value", "relative", "expected"),
    [
        (30, False, IntervalSpec(30_000)),
        (2.5, False, IntervalSpec(2_500)),
        (timedelta(minutes=5), False, IntervalSpec(300_000)),
        (schedule(timedelta(hours=1)), False, IntervalSpec(3_600_000)),
        (timedelta(minutes=5), True, IntervalSpec(300_000, "minute", "Europe/Berlin")),
        (schedule(timedelta(days=1), relative=True), False, IntervalSpec(86_400_000, "day", "Europe/Berlin")),
    ],
)
def test_interval_entries(value: object, relative: bool, expected: IntervalSpec) -> None:
    entry = translate_entry("e", {"task": "proj.add", "schedule": value, "relative": relative}, "Europe/Berlin")
    spec = entry.config.spec
    assert isinstance(spec, IntervalSpec) and (spec.every_ms, spec.align) == (expected.every_ms, expected.align)
    assert (entry.config.overlap, str(entry.config.on_missed)) == (True, "skip")  # Celery's beat behaviour


def test_crontab_entry_keeps_celery_and_semantics_in_the_app_zone() -> None:
    first_monday = crontab(minute=0, hour=7, day_of_week="mon", day_of_month="1-7")
    entry = translate_entry("m", {"task": "proj.report", "schedule": first_monday, "args": (1, 2),
                                  "kwargs": {"k": "v"}, "options": {"queue": "reports", "expires": 60}},
                            "Europe/Berlin")
    spec = entry.config.spec
    assert isinstance(spec, CrontabSpec) and spec.timezone == "Europe/Berlin"
    fires, at = [], _ms(2024, 1, 1, 0, 0)
    for _ in range(4):
        at = spec.next_after(at)
        fires.append(datetime.fromtimestamp(at / 1000, BERLIN).strftime("%Y-%m-%d %H:%M %a"))
    assert fires == ["2024-01-01 07:00 Mon", "2024-02-05 07:00 Mon", "2024-03-04 07:00 Mon", "2024-04-01 07:00 Mon"]
    assert entry.config.to_wire()["args"] == [1, 2] and entry.config.to_wire()["options"]["queue"] == "reports"
    assert (entry.args, entry.kwargs) == ((1, 2), {"k": "v"})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"schedule": 5}, "'task' must be a task name"),
        ({"task": "t"}, "'schedule' is required"),
        ({"task": "t", "schedule": 5, "arg": (1,)}, "unknown key"),
        ({"task": "t", "schedule": 5, "args": "12"}, "'args' must be a list"),
        ({"task": "t", "schedule": 5, "kwargs": [1]}, "'kwargs' must be a dict"),
        ({"task": "t", "schedule": 5, "options": 3}, "'options' must be a dict"),
        ({"task": "t", "schedule": 0}, "every"),
        ({"task": "t", "schedule": object()}, "not supported"),
    ],
)
def test_bad_entries_name_the_entry_and_field(entry: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        translate_entry("nightly", entry, "UTC")
    assert "nightly" in str(info.value)


def test_bad_crontab_fields_fail_at_definition() -> None:
    with pytest.raises(ValueError, match="day_of_week"):
        crontab(day_of_week="7")
    with pytest.raises(ValueError):
        crontab(day_of_month=31, month_of_year=2)


def test_unknown_timezone_fails_translation() -> None:
    with pytest.raises(ConfigurationError, match="unknown IANA time zone"):
        translate_entry("e", {"task": "t", "schedule": crontab(minute=0)}, "Europe/Nowhere")


def test_celery_timezone_settings() -> None:
    assert celery_timezone(Celery("a", broker="memory://")) == "UTC"
    assert celery_timezone(Celery("b", broker="memory://", timezone="Asia/Tokyo")) == "Asia/Tokyo"


# -- a real compat app on the scheduler -------------------------------------------------------------


T0 = _ms(2024, 5, 6, 8, 0, 30, zone=ZoneInfo("UTC"))  # a Monday


def _celery_app(clock: VirtualClock) -> Celery:
    app = Celery("proj", broker="memory://")
    app.conf.beat_schedule = {"add-every-10s": {"task": "proj.add", "schedule": 10.0, "args": (2, 3)}}

    @app.task(name="proj.add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="proj.hello")
    def hello(name: str = "world") -> str:
        return f"hello {name}"

    @app.on_after_finalize.connect
    def setup(sender: Celery, **_: object) -> None:
        sender.add_periodic_task(crontab(minute="*/5"), hello.s(), kwargs={"name": "beat"}, name="hello-5m")

    app.__taskora_app__.adapter.clock = clock
    install_beat_schedule(app)
    return app


def test_beat_schedule_and_add_periodic_task_run_on_the_scheduler() -> None:
    clock = VirtualClock(T0)
    app = _celery_app(clock)
    native = app.__taskora_app__
    runner = SchedulerRunner(native)
    runner.start()  # validates: both tasks are registered
    runner.stop()
    runner.tick_once()
    stored = {i.name: i for i in native.schedules.list()}
    assert stored["add-every-10s"].next_run_ms == T0 + 10_000  # first run one interval after start
    assert stored["hello-5m"].next_run_ms == T0 - 30_000 + 5 * 60_000  # next */5 minute
    clock.advance(10)
    fired = runner.tick_once().fired
    assert fired == [("add-every-10s", T0 + 10_000, run_id("add-every-10s", T0 + 10_000))]
    clock.advance(290)
    assert [f[0] for f in runner.tick_once().fired] == ["add-every-10s", "hello-5m"]
    native.start()
    try:
        assert app.AsyncResult(fired[0][2]).get(timeout=10) == 5
        hello_id = native.schedules.get("hello-5m").config.last_job_id
        assert app.AsyncResult(hello_id).get(timeout=10) == "hello beat"
    finally:
        native.close(timeout=5)


def test_removed_entries_disappear_and_changed_ones_update_at_the_next_start() -> None:
    clock = VirtualClock(T0)
    app = _celery_app(clock)
    native = app.__taskora_app__
    SchedulerRunner(native).tick_once()
    app.conf.beat_schedule = {"add-every-10s": {"task": "proj.add", "schedule": 20.0, "args": (1, 1)}}
    report = native.schedules.sync()
    assert report == {"added": [], "updated": ["add-every-10s"], "removed": ["hello-5m"]}
    [info] = native.schedules.list()
    assert info.config.spec == IntervalSpec(20_000) and info.config.extra["args"] == [1, 1]


def test_an_entry_for_an_unregistered_task_fails_at_startup() -> None:
    app = Celery("proj", broker="memory://")
    app.conf.beat_schedule = {"ghost": {"task": "proj.missing", "schedule": 5}}
    install_beat_schedule(app)
    with pytest.raises(ConfigurationError, match="no task named 'proj.missing'"):
        SchedulerRunner(app.__taskora_app__).start()
