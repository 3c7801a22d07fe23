# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""A relative interval (``schedule(..., relative=True)``) is due at a local clock boundary, chosen across DST
changes as Celery 5.7 does: a skipped midnight resolves forward, a 23-hour day is not waited out as 24."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz
from taskora.compat import beat
from taskora.compat.schedules import schedule

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def running(make_celery):
    app = make_celery()

    @app.task(name="dst.add")
    def add(x, y):
        return x + y

    app.__taskora_app__.start(concurrency=1)
    return app


@pytest.mark.parametrize("zone_of", [ZoneInfo, dateutil_tz.gettz], ids=["zoneinfo", "dateutil"])
def test_a_skipped_midnight_is_due_when_the_day_starts_and_runs_once(running, monkeypatch, zone_of):
    app = running
    zone = zone_of("Africa/Cairo")  # 2026-04-24 00:00 does not exist: clocks go from 00:00 to 01:00
    app.conf.timezone = zone
    clock = {"now": datetime(2026, 4, 23, 23, 30, tzinfo=zone)}
    monkeypatch.setattr(app, "now", lambda: clock["now"])
    task_id = uuid.uuid4().hex
    scheduler = beat.Scheduler(app=app, lazy=True)
    entry = scheduler.add(name="daily", task="dst.add", args=(1, 2), schedule=timedelta(days=1), relative=True,
                          last_run_at=clock["now"], options={"task_id": task_id})
    due = datetime(2026, 4, 23, 22, 0, tzinfo=timezone.utc)  # 01:00 local, the first time of the 24th
    clock["now"] = (due - timedelta(seconds=1)).astimezone(zone)
    assert scheduler.tick() > 0 and scheduler.schedule[entry.name].total_run_count == 0
    clock["now"] = due.astimezone(zone)
    assert scheduler.tick() == 0
    assert app.AsyncResult(task_id).get(timeout=10) == 3
    clock["now"] = (due + timedelta(seconds=1)).astimezone(zone)
    assert scheduler.tick() > 0 and scheduler.schedule[entry.name].total_run_count == 1


def test_a_relative_day_across_spring_forward_is_23_hours(running):
    zone = ZoneInfo("America/New_York")
    running.conf.timezone = zone
    midnight = datetime(2026, 3, 8, tzinfo=zone)
    daily = schedule(timedelta(days=1), relative=True, app=running, nowfun=lambda: midnight)
    assert daily.is_due(datetime(2026, 3, 7, 23, 30, tzinfo=zone)) == (True, 23 * 3600)
    assert daily.remaining_estimate(midnight) == timedelta(hours=23)

