"""Clean by age (``app.clean``, lua/clean_finished.lua) on both engines: which jobs go, every key of each,
bounded batches, and the jobs it must never touch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskora import Taskora
from taskora.clock import VirtualClock
from taskora.errors import ConfigurationError, UnknownTaskError
from taskora.worker.loop import Worker

KEEP_ALL = {"completed": {"max_age": "30d", "max_items": 1_000_000},
            "failed": {"max_age": "30d", "max_items": 1_000_000}}


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(1_800_000_000_000)


@pytest.fixture
def vapp(make_app: Callable[..., Taskora], clock: VirtualClock) -> Taskora:
    """An app on a virtual clock that keeps every finished job (retention does not interfere)."""
    app = make_app(clock=clock, retention=KEEP_ALL)

    @app.task("report")
    def report(data: Any, ctx: Any) -> Any:
        ctx.log.info("working", n=data)
        return data

    @app.task("broken")
    def broken(data: Any) -> Any:
        raise RuntimeError(f"broken {data}")

    return app


def finish(app: Taskora, task: str, count: int) -> list[str]:
    """Dispatch ``count`` jobs of ``task`` and run them to the end; returns their ids."""
    ids = [app.dispatch(task, n).id for n in range(count)]
    Worker(app, app.tasks.values()).run_until_idle()
    return ids


def keys_of(app: Taskora, task: str, job_id: str) -> int:
    """How many of the job's keys (hash, logs) still exist."""
    job_key = app.adapter.keys.job(task, job_id)
    return int(app.adapter.raw_client().exists(job_key, f"{job_key}:logs"))


def test_clean_deletes_only_jobs_older_than_the_age_with_all_their_keys(vapp: Taskora, clock: VirtualClock) -> None:
    old = finish(vapp, "report", 3)
    assert keys_of(vapp, "report", old[0]) == 2  # a hash and a log list
    clock.advance(2 * 3600)
    recent = finish(vapp, "report", 2)
    clock.advance(60)
    assert vapp.clean("report", older_than="1h") == 3
    assert vapp.adapter.counts("report")["completed"] == 2
    assert all(keys_of(vapp, "report", job_id) == 0 for job_id in old)
    assert all(vapp.inspect().find(job_id) is not None for job_id in recent)
    assert vapp.clean("report", older_than="1h") == 0
    assert vapp.clean("report", older_than=0) == 2  # older than nothing: every completed job


def test_clean_never_touches_waiting_delayed_or_other_states(vapp: Taskora, clock: VirtualClock) -> None:
    finish(vapp, "broken", 2)
    finish(vapp, "report", 2)
    waiting = vapp.dispatch("report", "later").id
    delayed = vapp.dispatch("report", "much later", delay=60).id
    clock.advance(3600)
    assert vapp.clean("report", state="failed", older_than=0) == 0  # report has no failed jobs
    assert vapp.clean("broken", state="failed", older_than="30m") == 2
    counts = vapp.adapter.counts("report")
    assert (counts["completed"], counts["waiting"], counts["delayed"]) == (2, 1, 1)
    assert vapp.handle("report", waiting).state() == "waiting" and vapp.handle("report", delayed).state() == "delayed"


def test_a_stale_entry_in_a_finished_set_keeps_the_job_it_names(vapp: Taskora) -> None:
    """A job whose hash says another state is not deleted even if its id sits in the completed set."""
    waiting = vapp.dispatch("report", "queued").id
    vapp.adapter.raw_client().zadd(vapp.adapter.keys.state_set("report", "completed"), {waiting: 1})
    assert vapp.clean("report", older_than=0) == 0
    assert vapp.handle("report", waiting).state() == "waiting" and keys_of(vapp, "report", waiting) == 1
    assert vapp.adapter.counts("report")["completed"] == 0  # the stale entry itself is gone


def test_clean_works_in_bounded_batches_and_stops_at_the_limit(vapp: Taskora, clock: VirtualClock) -> None:
    finish(vapp, "report", 25)
    clock.advance(10)
    calls: list[int] = []
    real = vapp.adapter.clean_finished

    def counted(task: str, state: str, before_ms: int, batch: int) -> tuple[int, int]:
        calls.append(batch)
        return real(task, state, before_ms, batch)

    vapp.adapter.clean_finished = counted  # type: ignore[method-assign]
    assert vapp.clean("report", older_than=0, limit=10, batch=3) == 10
    assert calls == [3, 3, 3, 1]
    calls.clear()
    assert vapp.clean("report", older_than=0, batch=4) == 15
    assert calls == [4, 4, 4, 4] and vapp.adapter.counts("report")["completed"] == 0


@pytest.mark.parametrize(("options", "message"), [
    ({"state": "active"}, "only finished ones"),
    ({"state": "waiting"}, "only finished ones"),
    ({"older_than": "soon"}, "clean: older_than"),
    ({"older_than": -5}, "clean: older_than"),
    ({"limit": 0}, "limit must be a positive integer"),
    ({"batch": 0}, "batch must be a positive integer"),
    ({"batch": 1_000_000}, "batch must be at most"),
])
def test_bad_arguments_are_refused_and_nothing_is_deleted(vapp: Taskora, options: dict[str, Any],
                                                          message: str) -> None:  # fmt: skip
    finish(vapp, "report", 2)
    with pytest.raises(ConfigurationError, match=message):
        vapp.clean("report", **options)
    assert vapp.adapter.counts("report")["completed"] == 2


def test_an_unknown_task_is_refused(vapp: Taskora) -> None:
    with pytest.raises(UnknownTaskError, match="no task named 'nope'"):
        vapp.clean("nope", older_than=0)
