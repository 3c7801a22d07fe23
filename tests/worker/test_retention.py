"""Retention keeps up with any rate: one maintenance round trims every finished record beyond the limits,
not one batch of them (both engines)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from taskora import Taskora
from taskora.worker.loop import Worker

_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_one_round_trims_a_backlog_many_batches_long(make_app: Callable[..., Taskora]) -> None:
    app = make_app(retention={"completed": {"max_items": 10}, "failed": {"max_items": 5}})
    task = app.task("quick", lambda n: n if n % 10 else 1 / 0)
    worker = Worker(app, [task])
    worker.maintenance.TRIM_BATCH = 300  # several batches per state: 2,700 completed and 300 failed jobs
    task.dispatch_many(list(range(3000)))
    assert worker.run_until_idle() == 3000
    counts = app.adapter.counts("quick")
    assert (counts["completed"], counts["failed"]) == (2700, 300)

    assert worker.maintenance.trim(task) == 2700 - 10 + 300 - 5

    counts = app.adapter.counts("quick")
    assert (counts["completed"], counts["failed"]) == (10, 5)
    prefix = app.adapter.keys.task_prefix("quick")
    # a set: SCAN may return a key twice while Redis shrinks its keyspace table after the trim
    keys = {k.decode()[len(prefix):] for k in app.adapter.client.scan_iter(match=prefix + "*")}
    job_keys = {k for k in keys if _JOB_ID.fullmatch(k)}
    assert len(job_keys) == 15  # the records of the jobs kept, and nothing else of the trimmed ones


def test_a_stop_ends_a_maintenance_round_between_two_calls(make_app: Callable[..., Taskora]) -> None:
    # Against a Redis gone silent each call of a round waits out its timeout (a second once the stop cut the
    # connections): a round over many tasks held a stopping worker's last join for seconds. A stop that comes while
    # one task is trimmed ends the round there.
    app = make_app()
    tasks = [app.task(f"kept-{n}", lambda d: d) for n in range(5)]
    worker = Worker(app, tasks)
    trimmed: list[str] = []

    def trim_then_stop(task: Any) -> int:
        trimmed.append(task.name)
        worker.maintenance.cold.set()  # the stop's tear-down, while this call is under way
        return 0

    worker.maintenance.trim = trim_then_stop  # type: ignore[method-assign]
    worker.maintenance._round({})
    assert trimmed == ["kept-0"]


def test_a_stop_during_the_last_trim_skips_the_round_s_last_calls(make_app: Callable[..., Taskora]) -> None:
    # The calls after the tasks' (expired workflows, parked jobs, timed work) wait out their timeouts alike.
    app = make_app()
    worker = Worker(app, [app.task("kept", lambda d: d)])
    after_tasks: list[str] = []

    def trim_then_stop(task: Any) -> int:
        worker.maintenance.cold.set()
        return 0

    worker.maintenance.trim = trim_then_stop  # type: ignore[method-assign]
    worker.maintenance.run_timed_work = lambda: after_tasks.append("timed work")  # type: ignore[method-assign]
    worker.maintenance._round({})
    assert after_tasks == []
