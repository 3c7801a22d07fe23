# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""``celery.beat``'s scheduler classes driven directly, sending through a real worker on both engines."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from taskora.compat import beat
from taskora.compat.schedules import schedule

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")

LONG_AGO = datetime(2022, 12, 5, 10, 20, tzinfo=timezone.utc)


@pytest.fixture
def running(make_celery):
    """An app with a started worker and an ``add`` task that records its requests."""
    app = make_celery()
    requests = []

    @app.task(bind=True, name="beat.add")
    def add(self, x, y):
        requests.append(self.request)
        return x + y

    app.__taskora_app__.start(concurrency=1)
    return app, requests


def test_tick_sends_a_due_entry_through_the_worker_and_reserves_its_successor(running):
    app, requests = running
    task_id = str(uuid.uuid4())
    scheduler = beat.Scheduler(app=app, lazy=True)
    entry = scheduler.add(name="every-second", task="beat.add", args=(1, 2), schedule=timedelta(seconds=1),
                          last_run_at=LONG_AGO, options={"task_id": task_id})
    assert scheduler.tick() == 0
    assert app.AsyncResult(task_id).get(timeout=10) == 3
    assert requests[0].celery_beat_task is True
    successor = scheduler.schedule[entry.name]
    assert successor.total_run_count == 1 and successor.last_run_at > LONG_AGO
    assert 0 < scheduler.tick() <= 1


def test_an_entry_not_yet_due_sends_nothing_and_asks_to_wait(running):
    app, requests = running
    scheduler = beat.Scheduler(app=app, lazy=True, max_interval=30)
    scheduler.add(name="hourly", task="beat.add", args=(1, 1), schedule=timedelta(hours=1))
    assert scheduler.tick() == 30
    assert scheduler.tick() == 30 and scheduler.schedule["hourly"].total_run_count == 0


def test_heap_top_changed_while_is_due_ran_reschedules_then_sends_the_new_top(running):
    app, _ = running
    second_id = str(uuid.uuid4())
    scheduler = beat.Scheduler(app=app, lazy=True)
    first = scheduler.add(name="first", task="beat.add", args=(1, 2), schedule=timedelta(seconds=1),
                          last_run_at=LONG_AGO)
    scheduler.old_schedulers = scheduler.schedule
    scheduler._heap = [beat.event_t(scheduler._when(first, 0) - 1, 5, first)]

    def mutating_is_due(_last_run_at):
        second = scheduler.add(name="second", task="beat.add", args=(3, 4), schedule=timedelta(seconds=1),
                               last_run_at=LONG_AGO, options={"task_id": second_id})
        scheduler._heap.insert(0, beat.event_t(scheduler._when(second, 0) - 2, 5, second))
        return True, 1

    real_is_due, first.schedule.is_due = first.schedule.is_due, mutating_is_due
    assert scheduler.tick() < 0
    first.schedule.is_due = real_is_due
    assert scheduler.tick() == 0
    assert app.AsyncResult(second_id).get(timeout=10) == 7
    assert scheduler.schedule["first"].total_run_count == 0


def test_an_entry_whose_is_due_raises_does_not_stop_the_others(running):
    app, _ = running
    healthy_id = str(uuid.uuid4())
    scheduler = beat.Scheduler(app=app, lazy=True)
    failing = scheduler.add(name="failing", task="beat.add", args=(1, 2), schedule=timedelta(seconds=1),
                            last_run_at=LONG_AGO)
    scheduler.add(name="healthy", task="beat.add", args=(3, 4), schedule=timedelta(seconds=1),
                  last_run_at=LONG_AGO, options={"task_id": healthy_id})

    def broken(_last_run_at):
        raise TypeError("cannot calculate the next run")

    failing.schedule.is_due = broken
    scheduler.populate_heap()
    heap = {event.entry.name: event.time for event in scheduler._heap}
    now = scheduler._when(failing, 0)
    assert heap["failing"] > now + scheduler.max_interval - 1 and heap["healthy"] <= now
    scheduler.old_schedulers = scheduler.schedule
    assert scheduler.tick() == 0
    assert app.AsyncResult(healthy_id).get(timeout=10) == 7
    assert scheduler.schedule["failing"].total_run_count == 0


def test_setup_schedule_merges_beat_schedule_keeping_run_history(running):
    app, _ = running
    app.conf.beat_schedule = {"a": {"task": "beat.add", "schedule": 10.0, "args": (1, 2)},
                              "b": {"task": "beat.add", "schedule": 20.0, "args": (3, 4)}}
    scheduler = beat.Scheduler(app=app)
    assert set(scheduler.schedule) == {"a", "b"}
    scheduler.reserve(scheduler.schedule["a"])
    scheduler.merge_inplace({"a": {"task": "beat.add", "schedule": 5.0, "args": (9, 9)}})
    entry = scheduler.schedule["a"]
    assert set(scheduler.schedule) == {"a"} and entry.total_run_count == 1 and entry.args == (9, 9)
    assert entry.schedule == schedule(timedelta(seconds=5))


def test_a_failed_send_is_a_scheduling_error_and_the_entry_still_advances(running):
    app, _ = running
    scheduler = beat.Scheduler(app=app, lazy=True)
    entry = scheduler.add(name="bad", task="beat.add", args=(object(),), schedule=1.0, last_run_at=LONG_AGO)
    with pytest.raises(beat.SchedulingError, match="Couldn't apply scheduled task bad"):
        scheduler.apply_async(entry)
    assert scheduler.schedule["bad"].total_run_count == 1


def test_persistent_scheduler_keeps_run_counts_across_restarts(running, tmp_path):
    app, _ = running
    app.conf.beat_schedule = {"a": {"task": "beat.add", "schedule": 3600.0, "args": (1, 2)}}
    filename = str(tmp_path / "celerybeat-schedule")
    first = beat.PersistentScheduler(app=app, schedule_filename=filename)
    first.reserve(first.schedule["a"])
    first.close()
    again = beat.PersistentScheduler(app=app, schedule_filename=filename)
    try:
        assert again.schedule["a"].total_run_count == 1
    finally:
        again.close()


class CountingScheduler(beat.Scheduler):
    """A custom scheduler as projects write them: overrides apply_entry and counts."""

    sent: list[str] = []

    def apply_entry(self, entry, producer=None):
        self.sent.append(entry.name)
        super().apply_entry(entry, producer=producer)


def test_service_runs_a_custom_scheduler_until_stopped(running):
    app, requests = running
    app.conf.beat_schedule = {"fast": {"task": "beat.add", "schedule": 0.2, "args": (2, 2)}}
    service = beat.Service(app=app, scheduler_cls=CountingScheduler, max_interval=0.1)
    thread = threading.Thread(target=service.start, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(requests) >= 2, 20, "two runs sent by the service")
    finally:
        service.stop()
        thread.join(10)
    assert not thread.is_alive() and isinstance(service.scheduler, CountingScheduler)
    assert CountingScheduler.sent.count("fast") >= 2


def test_service_names_a_scheduler_class_that_cannot_be_imported(make_celery):
    from taskora.compat.exceptions import ImproperlyConfigured

    service = beat.Service(app=make_celery(), scheduler_cls="no.such.module:Scheduler")
    with pytest.raises(ImproperlyConfigured, match="no.such.module:Scheduler"):
        service.get_scheduler()


def test_entries_read_the_apps_clock(make_celery, monkeypatch):
    app = make_celery()
    moment = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(app, "now", lambda: moment)
    entry = beat.ScheduleEntry(name="e", task="t", schedule=timedelta(minutes=5), app=app)
    assert entry.last_run_at == moment
    assert entry.is_due() == (False, 300.0)


class DateutilLikeZone:
    """What dateutil's ``tz.gettz`` returns: a tzinfo knowing only its zoneinfo file."""

    _filename = "/usr/share/zoneinfo/America/New_York"


def test_entries_accept_a_tzinfo_timezone_setting(make_celery, monkeypatch):
    from zoneinfo import ZoneInfo

    app = make_celery()
    zone = ZoneInfo("America/New_York")
    app.conf.timezone = zone
    moment = datetime(2026, 11, 1, 0, 30, tzinfo=zone)
    monkeypatch.setattr(app, "now", lambda: moment)
    entry = beat.ScheduleEntry(name="daily", task="t", schedule=timedelta(days=1), relative=True, app=app)
    assert entry.schedule.tz == "America/New_York"
    due, wait = entry.is_due()
    assert due is False and wait > 0
    app.conf.timezone = DateutilLikeZone()
    assert entry.schedule.tz == "America/New_York"
