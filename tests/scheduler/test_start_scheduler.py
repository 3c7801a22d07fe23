"""``app.start()`` runs the schedules too, leader-elected among every started app (both engines).

Two apps that both ``start()`` with a 1-second schedule fire it about once a second in total, each run
once (not once per app); ``scheduler=False`` opts an app out.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from taskora import Taskora
from taskora.errors import ConfigurationError
from tests.waiting import wait_until


def _app_with_schedule(make_app: Callable[..., Taskora], runs: list[str], lock: threading.Lock) -> Taskora:
    app = make_app()

    def tick(data: object, ctx: object) -> None:
        with lock:
            runs.append(str(ctx.meta("scheduledAt")))  # type: ignore[attr-defined]

    app.task("tick", tick, schedule={"every": "1s"})
    return app


def test_two_started_apps_fire_a_one_second_schedule_once_per_second(make_app: Callable[..., Taskora]) -> None:
    runs: list[str] = []
    lock = threading.Lock()
    apps = [_app_with_schedule(make_app, runs, lock) for _ in range(2)]
    started = time.monotonic()
    for app in apps:
        app.start()

    wait_until(lambda: len(runs) >= 5, timeout=15, what="five runs of the 1-second schedule")
    elapsed = time.monotonic() - started

    assert elapsed > 4.0, f"5 runs of a 1-second schedule after {elapsed:.1f}s: some slot fired twice"
    counts = Counter(runs)
    assert all(n == 1 for n in counts.values()), counts  # each slot once, not once per app
    fired = sorted(int(t) for t in counts)
    assert all(later - earlier == 1000 for earlier, later in zip(fired, fired[1:], strict=False)), fired
    leaders = [app.scheduler_runner.is_leader for app in apps]
    assert sorted(leaders) == [False, True], leaders


def test_close_stops_the_scheduler_and_releases_the_lock(make_app: Callable[..., Taskora]) -> None:
    runs: list[str] = []
    first = _app_with_schedule(make_app, runs, threading.Lock())
    first.start()
    runner = wait_until(lambda: first.scheduler_runner if first.scheduler_runner.is_leader else None,
                        what="the first app to lead")
    first.close()

    assert first.scheduler_runner is None and not runner.is_leader
    second = _app_with_schedule(make_app, runs, threading.Lock())
    second.start()
    wait_until(lambda: second.scheduler_runner.is_leader, timeout=5, what="the second app to take the freed lock")


def test_scheduler_false_opts_out_and_no_schedule_means_no_runner(make_app: Callable[..., Taskora]) -> None:
    opted_out = _app_with_schedule(make_app, [], threading.Lock())
    opted_out.start(scheduler=False)
    plain = make_app()
    plain.task("other", lambda data: data)
    plain.start()

    assert opted_out.scheduler_runner is None and plain.scheduler_runner is None
    assert opted_out.adapter.scheduler_lock("probe", 1000) == 2  # nobody took the leader lock


def test_bad_start_arguments_fail_before_anything_runs(make_app: Callable[..., Taskora]) -> None:
    app = make_app()
    app.task("ping", lambda data: data)
    app.schedules.declare("orphan", task="missing", check_task=False, every="1s")

    with pytest.raises(ConfigurationError, match="orphan.*missing"):
        app.start()
    assert app.scheduler_runner is None and app._worker is None
    with pytest.raises(ConfigurationError, match="scheduler must be True, False or None"):
        app.start(scheduler="yes")  # type: ignore[arg-type]
