"""Per-key concurrency, singleton and task ttl, enforced by the claim script, on both engines.

The engine-level tests drive the transitions (claim, ack, fail, cancel, nack, stall sweep) directly so
each slot release is checked on its own; the worker tests check the limit holds while handlers run.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from taskora import ConfigurationError, ExpiredError, Taskora, group
from taskora.clock import VirtualClock

LOCK_MS = 30_000


def counter(app: Taskora, task: str, key: str) -> str | None:
    """The conc:<key> slot counter as stored (None: no slot taken)."""
    value = app.adapter.client.get(f"{app.adapter.keys.task_prefix(task)}conc:{key}")  # type: ignore[attr-defined]
    return None if value is None else value.decode()


def claim(app: Taskora, task: str) -> Any:
    return app.adapter.claim(task, uuid.uuid4().hex, LOCK_MS).job


def claim_all(app: Taskora, task: str) -> list[Any]:
    """Claim until the claim finds nothing it may start."""
    held = []
    while (job := claim(app, task)) is not None:
        held.append(job)
    return held


def data_of(app: Taskora, job: Any) -> Any:
    return app.serializer.loads(job.fields["data"])


def test_the_claim_starts_at_most_limit_jobs_per_key_and_skips_to_other_keys(app: Taskora) -> None:
    task = app.task("per-tenant", lambda d: d, concurrency_key=lambda d: d["tenant"], concurrency_limit=2)
    for n in range(4):
        task.dispatch({"tenant": "a", "n": n})
    task.dispatch({"tenant": "b", "n": 9})

    started = [data_of(app, job) for job in claim_all(app, "per-tenant")]

    assert started == [{"tenant": "a", "n": 0}, {"tenant": "a", "n": 1}, {"tenant": "b", "n": 9}]
    assert counter(app, "per-tenant", "a") == "2" and counter(app, "per-tenant", "b") == "1"
    waiting = [j.data["n"] for j in app.inspect().waiting(task="per-tenant")]
    assert sorted(waiting) == [2, 3]  # held back, still waiting, nothing lost


def test_ack_frees_the_slot_and_the_next_job_of_the_key_starts(app: Taskora) -> None:
    task = app.task("one-at-a-time", lambda d: d, concurrency_key="k", concurrency_limit=1)
    first, second = task.dispatch(1), task.dispatch(2)
    job = claim(app, "one-at-a-time")
    assert job.id == first.id and claim(app, "one-at-a-time") is None

    app.adapter.ack(job, app.serializer.dumps(1))

    assert counter(app, "one-at-a-time", "k") is None  # deleted at 0, as TypeScript leaves it
    assert claim(app, "one-at-a-time").id == second.id
    assert counter(app, "one-at-a-time", "k") == "1"


@pytest.mark.parametrize("way_out", ["fail", "retry", "cancel", "nack", "stall", "reclaim"])
def test_every_way_out_of_active_frees_the_slot(make_app: Callable[..., Taskora], way_out: str) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("exits", lambda d: d, concurrency_key="k", concurrency_limit=1)
    task.dispatch(1)
    follower = task.dispatch(2)
    job = claim(app, "exits")
    assert claim(app, "exits") is None

    leave_active(app, job, way_out, clock)

    assert counter(app, "exits", "k") is None
    assert claim(app, "exits").id == (job.id if way_out in ("nack", "stall", "reclaim") else follower.id)


def leave_active(app: Taskora, job: Any, way_out: str, clock: VirtualClock) -> None:
    adapter = app.adapter
    if way_out == "fail":
        adapter.fail(job, "boom")
    elif way_out == "retry":
        adapter.fail(job, "boom", retry_delay_ms=60_000)
    elif way_out == "cancel":
        assert adapter.cancel("exits", job.id, "stop", terminate="SIGTERM") == "terminated"
    elif way_out == "nack":
        assert adapter.nack("exits", job.id, job.token)
    elif way_out == "reclaim":  # its worker's liveness key lapsed: handed back without waiting for the lock
        assert adapter.reclaim("exits", job.id, job.token, None) == "recovered"
    else:  # its worker died: the lock lapses and two sweeps find it
        adapter.stall_sweep("exits", 1)
        clock.advance(LOCK_MS / 1000 + 1)
        adapter.client.delete(adapter.keys.lock("exits", job.id))  # type: ignore[attr-defined]
        recovered, _ = adapter.stall_sweep("exits", 1)
        assert recovered == [job.id]


def test_dispatch_time_key_and_limit_override_the_task_default(app: Taskora) -> None:
    task = app.task("sync-account", lambda d: d, concurrency_limit=1)
    for n in range(3):
        task.dispatch(n, concurrency_key="account:7", concurrency_limit=2)
    task.dispatch(3)  # no key: not limited

    assert len(claim_all(app, "sync-account")) == 3
    stored = app.inspect().active(task="sync-account")
    assert {(j.concurrency_key, j.concurrency_limit) for j in stored} == {("account:7", 2), (None, None)}


def test_a_dispatch_time_key_without_a_limit_takes_the_task_limit_or_1(app: Taskora) -> None:
    limited = app.task("limited", lambda d: d, concurrency_limit=3)
    plain = app.task("plain", lambda d: d)
    assert limited.build_request(1, {"concurrency_key": "x"}).fields["concurrencyLimit"] == "3"
    assert plain.build_request(1, {"concurrency_key": "x"}).fields["concurrencyLimit"] == "1"


def test_singleton_starts_one_job_of_the_task_at_a_time(app: Taskora) -> None:
    task = app.task("global-sync", lambda d: d, singleton=True)
    handles = [task.dispatch(n) for n in range(3)]

    job = claim(app, "global-sync")
    assert job.id == handles[0].id and claim(app, "global-sync") is None
    app.adapter.ack(job, app.serializer.dumps(0))
    assert claim(app, "global-sync").id == handles[1].id


def peak_of_running(app: Taskora, task_name: str, jobs: int, limit: int, **options: Any) -> int:
    """Run ``jobs`` jobs on a 4-slot worker whose handler stays running (up to 0.3 s) until more than
    ``limit`` run at once, and return the most handlers seen running at once."""
    running, peak, lock = set(), [0], threading.Lock()
    over_the_limit = threading.Event()

    def handler(data: Any) -> Any:
        with lock:
            running.add(data["n"])
            peak[0] = max(peak[0], len(running))
            if len(running) > limit:
                over_the_limit.set()
        over_the_limit.wait(0.3)
        with lock:
            running.discard(data["n"])
        return data["n"]

    task = app.task(task_name, handler, concurrency=4, **options)
    handles = [task.dispatch({"n": n, "tenant": "t"}) for n in range(jobs)]
    app.start()
    assert [h.result(timeout=30) for h in handles] == list(range(jobs))
    return peak[0]


def test_a_running_worker_keeps_the_per_key_limit(app: Taskora) -> None:
    assert peak_of_running(app, "tenant-work", 8, 2, concurrency_key=lambda d: d["tenant"], concurrency_limit=2) == 2
    assert counter(app, "tenant-work", "t") is None


def test_a_running_worker_runs_a_singleton_task_one_job_at_a_time(app: Taskora) -> None:
    assert peak_of_running(app, "singleton-work", 4, 1, singleton=True) == 1


def test_workflow_steps_of_a_keyed_task_carry_its_key(app: Taskora) -> None:
    task = app.task("step", lambda d: d, concurrency_key=lambda d: f"user:{d}", concurrency_limit=1)
    single = app.task("lonely", lambda d: d, singleton=True)
    group(task.s(1), task.s(1), task.s(2), single.s(0)).dispatch()

    started = {(job.fields["concurrencyKey"], job.fields["concurrencyLimit"]) for job in claim_all(app, "step")}
    assert started == {("user:1", "1"), ("user:2", "1")}  # the second job of user:1 is held back
    assert claim(app, "lonely").fields["concurrencyKey"] == "__singleton__"


def test_ttl_fail_keeps_the_job_as_expired_and_discard_removes_it(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    kept = app.task("kept", lambda d: "ran", ttl={"max": "1s", "on_expire": "fail"})
    dropped = app.task("dropped", lambda d: "ran", ttl={"max": "1s", "on_expire": "discard"})
    expired, discarded = kept.dispatch(1), dropped.dispatch(1)
    clock.advance(2)

    assert claim(app, "kept") is None and claim(app, "dropped") is None

    assert expired.state() == "expired"
    with pytest.raises(ExpiredError):
        expired.result(timeout=5)
    assert app.adapter.get_job("dropped", discarded.id) is None
    assert app.inspect().expired(task="dropped") == []
    events = app.adapter.client.xrange(app.adapter.keys.task_prefix("dropped") + "events")  # type: ignore[attr-defined]
    assert [f[b"event"] for _, f in events] == [b"waiting", b"expired"]


def test_a_delayed_job_past_its_ttl_is_discarded_when_it_would_be_promoted(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("later", lambda d: d, ttl={"max": "1s", "on_expire": "discard"})
    handle = task.dispatch(1, delay="1s")  # the ttl counts from when it is due: expires 2 s from now
    clock.advance(3)

    assert claim(app, "later") is None
    assert app.adapter.get_job("later", handle.id) is None and app.adapter.list_ids("later", "delayed") == []


def test_a_task_ttl_counts_from_dispatch_and_a_dispatch_ttl_overrides_it(make_app: Callable[..., Taskora]) -> None:
    clock = VirtualClock()
    app = make_app(clock=clock)
    task = app.task("perishable", lambda d: d, ttl={"max": "1h", "on_expire": "discard"})
    short, default = task.dispatch("short", ttl="1s"), task.dispatch("default")
    clock.advance(2)

    job = claim(app, "perishable")

    assert job.id == default.id
    assert app.adapter.get_job("perishable", short.id) is None  # the task's on_expire still applies
    assert app.inspect().job("perishable", default.id).expire_at == int(default_field(app, default.id, "ts")) + 3600_000


def default_field(app: Taskora, job_id: str, name: str) -> Any:
    return app.adapter.get_job("perishable", job_id)[name]


@pytest.mark.parametrize(("options", "words"), [
    ({"concurrency_limit": 0, "concurrency_key": "k"}, ("concurrency_limit", "0")),
    ({"concurrency_limit": True, "concurrency_key": "k"}, ("concurrency_limit", "True")),
    ({"concurrency_key": 5}, ("concurrency_key", "5")),
    ({"concurrency_key": ""}, ("concurrency_key",)),
    ({"singleton": "yes"}, ("singleton", "'yes'")),
    ({"singleton": True, "concurrency_key": "k"}, ("singleton", "concurrency_key")),
    ({"singleton": True, "concurrency_limit": 3}, ("singleton", "concurrency_limit=3")),
    ({"ttl": {"max": "1h", "on_expire": "drop"}}, ("ttl.on_expire", "'drop'")),
    ({"ttl": {"on_expire": "fail"}}, ("ttl", "max")),
    ({"ttl": {"max": "1h", "later": 1}}, ("ttl", "later")),
    ({"ttl": 0}, ("ttl.max", "0")),
])  # fmt: skip
def test_bad_task_options_are_rejected_at_declaration(app: Taskora, options: dict[str, Any],
                                                      words: tuple[str, ...]) -> None:  # fmt: skip
    with pytest.raises(ConfigurationError) as caught:
        app.task("bad", lambda d: d, **options)
    assert all(word in str(caught.value) for word in words), str(caught.value)
    assert "bad" not in app.tasks


@pytest.mark.parametrize(("task_options", "options", "words"), [
    ({}, {"concurrency_limit": 2}, ("concurrency_limit", "concurrency_key")),
    ({}, {"concurrency_key": "k", "concurrency_limit": -1}, ("concurrency_limit", "-1")),
    ({}, {"concurrency_key": lambda d: "k"}, ("concurrency_key", "non-empty string")),
    ({"singleton": True}, {"concurrency_key": "k"}, ("singleton", "concurrency_key")),
    ({"concurrency_key": lambda d: d["missing"]}, {}, ("concurrency_key", "raised", "missing")),
    ({"concurrency_key": lambda d: 7}, {}, ("concurrency_key", "7")),
    ({}, {"ttl": {"max": "1s", "on_expire": "later"}}, ("ttl.on_expire", "'later'")),
])  # fmt: skip
def test_bad_dispatch_options_are_rejected_with_nothing_written(app: Taskora, task_options: dict[str, Any],
                                                               options: dict[str, Any],
                                                               words: tuple[str, ...]) -> None:  # fmt: skip
    task = app.task("careful", lambda d: d, **task_options)
    with pytest.raises(ConfigurationError) as caught:
        task.dispatch({"n": 1}, **options)
    assert all(word in str(caught.value) for word in words), str(caught.value)
    assert "careful.dispatch" in str(caught.value)
    assert app.adapter.list_ids("careful", "waiting") == []


def test_the_inspector_shows_a_jobs_concurrency_key(app: Taskora) -> None:
    task = app.task("shown", lambda d: d, concurrency_key=lambda d: f"user:{d}", concurrency_limit=4)
    handle = task.dispatch(42)
    info = app.inspect().job("shown", handle.id)
    assert (info.concurrency_key, info.concurrency_limit, info.expire_at) == ("user:42", 4, None)
