"""The leader-elected scheduler on both engines, driven by an injected VirtualClock through
``runner.tick_once()``: missed-run policies, overlap, runtime management, DST cron, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from taskora import Taskora
from taskora.clock import VirtualClock
from taskora.errors import ConfigurationError, UnknownTaskError
from taskora.scheduler.manager import run_id
from taskora.scheduler.runner import SchedulerRunner

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def sched_app(make_app: Callable[..., Taskora], clock: VirtualClock) -> Taskora:
    app = make_app(clock=clock)
    app.task("ping", lambda data: data)
    return app


def waiting_jobs(app: Taskora, task: str = "ping") -> list[dict]:
    """Jobs of ``task`` still waiting, oldest first, with their scheduled fire time."""
    ids = app.adapter.list_ids(task, "waiting")[::-1]
    return [app.adapter.get_job(task, i) | {"id": i} for i in ids]


def fire_times(app: Taskora, task: str = "ping") -> list[int]:
    return sorted(int(j["scheduledAt"]) for j in waiting_jobs(app, task))


# -- declarations ---------------------------------------------------------------------------------


def test_task_option_schedule_first_fires_one_interval_after_start(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.task("tick", lambda data: None, schedule={"every": "10s"})
    runner = SchedulerRunner(sched_app)
    assert runner.tick_once().fired == []
    [info] = sched_app.schedules.list()
    assert (info.name, info.config.task, info.next_run_ms) == ("tick", "tick", T0 + 10_000)
    clock.advance(10)
    result = runner.tick_once()
    assert result.fired == [("tick", T0 + 10_000, run_id("tick", T0 + 10_000))]
    assert result.recorded == ["tick"]
    assert sched_app.schedules.get("tick").next_run_ms == T0 + 20_000


def test_named_schedule_passes_its_data_and_marks_the_job(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("nightly", task="ping", every="1h", data={"older_than": "30d"}, overlap=True)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    clock.advance(3600)
    runner.tick_once()
    [job] = waiting_jobs(sched_app)
    assert json.loads(job["data"]) == {"older_than": "30d"}
    assert (job["schedule"], job["scheduledAt"]) == ("nightly", str(T0 + 3_600_000))
    assert job["id"] == run_id("nightly", T0 + 3_600_000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "nope", "every": 5}, "no task named 'nope'"),
        ({"task": "ping", "cron": "61 * * * *"}, "cron"),
        ({"task": "ping", "cron": "* * *"}, "3 fields"),
        ({"task": "ping", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "unknown IANA time zone"),
        ({"task": "ping", "every": 5, "timezone": "Nowhere/City"}, "unknown IANA time zone"),
        ({"task": "ping", "every": 5, "on_missed": "sometimes"}, "on_missed"),
        ({"task": "ping", "every": 5, "cron": "* * * * *"}, "exactly one"),
        ({"task": "ping"}, "exactly one"),
        ({"task": "ping", "every": -3}, "every"),
    ],
)
def test_bad_declarations_fail_at_definition(sched_app: Taskora, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        sched_app.schedule("s", **kwargs)
    assert "s" not in sched_app.schedules.declared()


def test_bad_task_option_schedule_leaves_the_task_unregistered(sched_app: Taskora) -> None:
    with pytest.raises(ConfigurationError, match="unknown key"):
        sched_app.task("t", lambda d: d, schedule={"evry": "5m"})
    with pytest.raises(ConfigurationError, match="cron"):
        sched_app.task("t", lambda d: d, schedule={"cron": "not a cron"})
    assert "t" not in sched_app.tasks


def test_duplicate_schedule_name_is_refused(sched_app: Taskora) -> None:
    sched_app.schedule("s", task="ping", every=5)
    with pytest.raises(ConfigurationError, match="already declared"):
        sched_app.schedule("s", task="ping", every=6)


def test_runner_start_refuses_a_schedule_of_an_unregistered_task(sched_app: Taskora) -> None:
    sched_app.schedules.add_source("other", lambda: {"x": _config("ghost")})
    runner = SchedulerRunner(sched_app)
    with pytest.raises(ConfigurationError, match="no task named 'ghost'"):
        runner.start()


def test_runner_settings_are_checked(sched_app: Taskora) -> None:
    with pytest.raises(ConfigurationError, match="tick < lock_ttl"):
        SchedulerRunner(sched_app, tick=5, lock_ttl=2)
    sched_app.scheduler_options["lok_ttl"] = 3
    with pytest.raises(ConfigurationError, match="lok_ttl"):
        SchedulerRunner(sched_app)


def _config(task: str):
    from taskora.scheduler import IntervalSpec, ScheduleConfig

    return ScheduleConfig(task=task, spec=IntervalSpec(1000))


# -- missed runs ----------------------------------------------------------------------------------


def _run_after_downtime(app: Taskora, clock: VirtualClock, on_missed: str | None) -> SchedulerRunner:
    app.schedule("s", task="ping", every=60, on_missed=on_missed, overlap=True)
    runner = SchedulerRunner(app)
    runner.tick_once()  # next = T0 + 60 s
    clock.advance(60 * 10 + 30)  # ten due times passed while nobody ticked (T0+60s ... T0+600s)
    runner.tick_once()
    return runner


def test_skip_fires_once_for_a_backlog_and_resumes_on_the_grid(sched_app: Taskora, clock: VirtualClock) -> None:
    _run_after_downtime(sched_app, clock, None)
    assert fire_times(sched_app) == [T0 + 600_000]
    assert sched_app.schedules.get("s").next_run_ms == T0 + 660_000


def test_catch_up_fires_every_missed_run(sched_app: Taskora, clock: VirtualClock) -> None:
    _run_after_downtime(sched_app, clock, "catch-up")
    assert fire_times(sched_app) == [T0 + 60_000 * k for k in range(1, 11)]
    info = sched_app.schedules.get("s")
    assert (info.config.last_run, info.next_run_ms) == (T0 + 600_000, T0 + 660_000)
    assert info.config.last_job_id == run_id("s", T0 + 600_000)


def test_catch_up_limit_fires_the_last_n(sched_app: Taskora, clock: VirtualClock) -> None:
    runner = _run_after_downtime(sched_app, clock, "catch-up-limit:3")
    assert fire_times(sched_app) == [T0 + 480_000, T0 + 540_000, T0 + 600_000]
    assert runner.tick_once().fired == []  # nothing due again until the next slot


# -- overlap --------------------------------------------------------------------------------------


def test_overlap_false_skips_while_the_previous_run_is_pending(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("s", task="ping", every=10)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    clock.advance(10)
    [(_, _, first)] = runner.tick_once().fired
    clock.advance(10)
    result = runner.tick_once()
    assert (result.fired, result.skipped) == ([], ["s"])
    assert sched_app.schedules.get("s").next_run_ms == T0 + 30_000  # the skipped slot is gone, not deferred
    sched_app.handle("ping", first).cancel("done with it")  # previous run finished (cancelled)
    clock.advance(10)
    assert [f[1] for f in runner.tick_once().fired] == [T0 + 30_000]


def test_overlap_true_fires_even_while_the_previous_run_waits(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("s", task="ping", every=10, overlap=True)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    for _ in range(3):
        clock.advance(10)
        runner.tick_once()
    assert fire_times(sched_app) == [T0 + 10_000, T0 + 20_000, T0 + 30_000]


def test_overlap_false_runs_again_once_a_worker_completed_the_previous(make_app: Callable[..., Taskora]) -> None:
    app = make_app()  # real time: a worker completes the first run
    app.task("work", lambda data: "ok")
    app.schedule("s", task="work", every=3600)
    runner = SchedulerRunner(app)
    runner.tick_once()
    handle = app.schedules.trigger("s")
    app.start(scheduler=False)  # only this test's runner ticks
    assert handle.result(timeout=10) == "ok"
    app.schedules.update("s", every=0.001)  # due at once from here
    result = runner.tick_once()
    while not (result.fired or result.skipped):  # the 1 ms slot may not have passed yet
        result = runner.tick_once()
    assert (len(result.fired), result.skipped) == (1, [])


# -- runtime management ---------------------------------------------------------------------------


def test_pause_and_resume(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("s", task="ping", every=10, overlap=True)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    paused = sched_app.schedules.pause("s")
    assert paused.paused and paused.next_run_ms is None
    clock.advance(35)
    assert runner.tick_once().fired == []
    resumed = sched_app.schedules.resume("s")
    assert not resumed.paused and resumed.next_run_ms == T0 + 45_000  # missed-while-paused runs are dropped
    clock.advance(10)
    assert [f[1] for f in runner.tick_once().fired] == [T0 + 45_000]


def test_pause_survives_a_resync_of_the_declaration(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("s", task="ping", every=10)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    sched_app.schedules.pause("s")
    runner.release()
    SchedulerRunner(sched_app).tick_once()  # a new leader syncs declarations
    assert sched_app.schedules.get("s").paused


def test_update_timing_data_and_policy(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("s", task="ping", every=10, data=1, overlap=True)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    info = sched_app.schedules.update("s", every="1m", data=2, on_missed="catch-up")
    assert info.next_run_ms == T0 + 60_000 and str(info.config.on_missed) == "catch-up"
    clock.advance(60)
    runner.tick_once()
    assert [json.loads(j["data"]) for j in waiting_jobs(sched_app)] == [2]
    cron = sched_app.schedules.update("s", cron="0 9 * * *", timezone="Europe/Berlin")
    assert cron.config.spec.to_wire() == {"cron": "0 9 * * *", "timezone": "Europe/Berlin"}
    assert cron.next_run_ms == int(datetime(2023, 11, 15, 9, tzinfo=ZoneInfo("Europe/Berlin")).timestamp() * 1000)
    with pytest.raises(ConfigurationError, match="unknown IANA"):
        sched_app.schedules.update("s", timezone="Atlantis/Capital")
    with pytest.raises(ConfigurationError, match="unknown option"):
        sched_app.schedules.update("s", evry=5)
    with pytest.raises(UnknownTaskError, match="no schedule named 'zzz'"):
        sched_app.schedules.update("zzz", every=5)


def test_trigger_runs_now_without_moving_the_timing(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("s", task="ping", every=60, data="x")
    SchedulerRunner(sched_app).tick_once()
    clock.advance(5)
    handle = sched_app.schedules.trigger("s")
    info = sched_app.schedules.get("s")
    assert handle.state() == "waiting" and json.loads(waiting_jobs(sched_app)[0]["data"]) == "x"
    assert (info.config.last_job_id, info.config.last_run, info.next_run_ms) == (handle.id, T0 + 5_000, T0 + 60_000)


def test_remove_deletes_and_a_declared_schedule_returns_at_the_next_sync(sched_app: Taskora) -> None:
    sched_app.schedule("s", task="ping", every=60)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    assert sched_app.schedules.remove("s") is True
    assert sched_app.schedules.list() == [] and sched_app.schedules.remove("s") is False
    assert sched_app.schedules.sync()["added"] == ["s"]


def test_sync_prunes_removed_entries_of_a_pruning_source(sched_app: Taskora) -> None:
    entries = {"a": _config("ping"), "b": _config("ping")}
    sched_app.schedules.add_source("beat", lambda: dict(entries), prune=True)
    sched_app.schedule("native-one", task="ping", every=5)
    assert sorted(sched_app.schedules.sync()["added"]) == ["a", "b", "native-one"]
    del entries["b"]
    sched_app.schedules._native.clear()  # a native declaration removed from code is kept (no prune flag)
    report = sched_app.schedules.sync()
    assert report["removed"] == ["b"]
    assert [i.name for i in sched_app.schedules.list()] == ["a", "native-one"]


def test_changing_a_declaration_keeps_run_state(sched_app: Taskora, clock: VirtualClock) -> None:
    entries = {"a": _config("ping")}
    sched_app.schedules.add_source("beat", lambda: dict(entries), prune=True)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    clock.advance(1)
    runner.tick_once()
    from taskora.scheduler import IntervalSpec, ScheduleConfig

    entries["a"] = ScheduleConfig(task="ping", spec=IntervalSpec(5000), data="new")
    assert sched_app.schedules.sync()["updated"] == ["a"]
    info = sched_app.schedules.get("a")
    assert info.config.data == "new" and info.config.last_run == T0 + 1000
    assert info.next_run_ms == T0 + 6000  # recomputed from the last run under the new timing


def test_an_unreadable_stored_schedule_does_not_stop_the_others(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("good", task="ping", every=10, overlap=True)
    runner = SchedulerRunner(sched_app)
    runner.tick_once()
    sched_app.adapter.schedule_set("broken", "", '{"task": "ping"}', T0)
    clock.advance(10)
    assert [f[0] for f in runner.tick_once().fired] == ["good"]


# -- cron in a DST zone ---------------------------------------------------------------------------


def test_cron_across_spring_forward_in_berlin(make_app: Callable[..., Taskora]) -> None:
    zone = ZoneInfo("Europe/Berlin")
    start = int(datetime(2024, 3, 29, 12, tzinfo=zone).timestamp() * 1000)
    clock = VirtualClock(start)
    app = make_app(clock=clock)
    app.task("ping", lambda d: d)
    app.schedule("s", task="ping", cron="30 2 * * *", timezone="Europe/Berlin", overlap=True)
    runner = SchedulerRunner(app)
    runner.tick_once()
    fired = []
    for _ in range(4 * 24):  # four days, hourly ticks
        clock.advance(3600)
        fired += [f[1] for f in runner.tick_once().fired]
    local = [datetime.fromtimestamp(ms / 1000, zone).strftime("%m-%d %H:%M %Z") for ms in fired]
    # 31 March 02:30 does not exist (clocks jump 02:00 -> 03:00): it fires at 03:30 CEST instead.
    assert local == ["03-30 02:30 CET", "03-31 03:30 CEST", "04-01 02:30 CEST", "04-02 02:30 CEST"]


# -- leader election ------------------------------------------------------------------------------


def test_only_one_runner_leads_and_fires(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("s", task="ping", every=1, overlap=True)
    runners = [SchedulerRunner(sched_app) for _ in range(3)]
    for _ in range(5):
        clock.advance(1)
        results = [r.tick_once() for r in runners]
        assert [r.leader for r in results] == [True, False, False]
    assert len(waiting_jobs(sched_app)) == 4  # the first tick only stored the schedule


def test_clean_stop_hands_over_at_once(sched_app: Taskora, clock: VirtualClock) -> None:
    first, second = SchedulerRunner(sched_app), SchedulerRunner(sched_app)
    assert first.tick_once().leader and not second.tick_once().leader
    first.stop()
    assert second.tick_once().leader


def test_expired_lock_fails_over_and_a_half_done_tick_is_not_doubled(sched_app: Taskora, clock: VirtualClock,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    sched_app.schedule("s", task="ping", every=10)
    leader = SchedulerRunner(sched_app, tick=0.05, lock_ttl=0.3)
    follower = SchedulerRunner(sched_app, tick=0.05, lock_ttl=0.3)
    leader.tick_once()
    clock.advance(10)

    def die_before_recording(*_a: object) -> None:
        raise SystemExit("leader killed between dispatch and record")

    monkeypatch.setattr(sched_app.adapter, "scheduler_tick", die_before_recording)
    with pytest.raises(SystemExit):
        leader.tick_once()  # the run was enqueued, the tick never recorded
    monkeypatch.undo()
    assert len(waiting_jobs(sched_app)) == 1
    began = time.monotonic()
    while not follower.tick_once().leader:
        assert time.monotonic() - began < 2, "follower never took over"
        time.sleep(0.02)
    assert time.monotonic() - began < 0.3 + 0.2  # within the lock ttl
    assert len(waiting_jobs(sched_app)) == 1  # same run id re-enqueued: dropped
    assert sched_app.schedules.get("s").next_run_ms == T0 + 20_000
    assert leader.tick_once().leader is False


def test_a_deposed_leader_cannot_record(sched_app: Taskora, clock: VirtualClock) -> None:
    sched_app.schedule("s", task="ping", every=10, overlap=True)
    old = SchedulerRunner(sched_app)
    old.tick_once()
    sched_app.adapter.client.delete(sched_app.adapter.keys.schedules_lock)
    new = SchedulerRunner(sched_app)
    assert new.tick_once().leader
    record = ("s", "{}", T0, "{}", T0)
    assert sched_app.adapter.scheduler_tick(old.token, [record]) is None


def test_runner_thread_fires_on_real_time(make_app: Callable[..., Taskora]) -> None:
    import time

    app = make_app()
    app.task("ping", lambda d: d)
    app.schedule("s", task="ping", every=0.2, overlap=True)
    runner = SchedulerRunner(app, tick=0.1, lock_ttl=2).start()
    try:
        deadline = time.monotonic() + 5
        while len(app.adapter.list_ids("ping", "waiting")) < 3:
            assert time.monotonic() < deadline, "the runner thread fired nothing"
            time.sleep(0.05)
    finally:
        runner.stop()
    assert runner.is_leader is False
    assert app.adapter.client.get(app.adapter.keys.schedules_lock) is None



def test_declared_schedules_are_managed_once_stored(sched_app: Taskora) -> None:
    sched_app.schedule("nightly", task="ping", cron="0 3 * * *", timezone="Europe/Berlin")
    with pytest.raises(UnknownTaskError, match="no schedule named 'nightly'"):
        sched_app.schedules.pause("nightly")  # declared, but no scheduler has stored it yet

    sched_app.schedules.sync()
    paused = sched_app.schedules.pause("nightly")

    assert paused.config.paused and paused.next_run_ms is None
    assert [s.name for s in sched_app.schedules.list()] == ["nightly"]
