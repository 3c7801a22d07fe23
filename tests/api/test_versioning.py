"""Payload versions on both engines: jobs dispatched by an older producer (v1, v2) run on a worker upgraded
to v3 through sparse and list migrations, then validation; jobs outside ``since..version`` fail with
SchemaVersionMismatchError naming both versions; ``inspect().migrations()`` counts queued jobs per version;
bad versioning fails at declaration naming the task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest

import taskora.adapters.versions as version_reads
import taskora.version_handoff as version_handoff
from taskora import ConfigurationError, JobFailedError, Taskora, into
from tests.waiting import wait_until


class MailV3(pydantic.BaseModel):
    to: str
    priority: str
    sender: str


def _v2(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "priority": "normal"}


def _v3(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "sender": data.get("from", "noreply")}


def _render(mail: MailV3) -> str:
    return f"{mail.to}/{mail.priority}/{mail.sender}"


def _producer(make_app: Callable[..., Taskora], version: int) -> Any:
    """An older (or newer) deployment's producer: same task name, its own version stamp."""
    return make_app().register_task("mail", None, version=version)


@pytest.mark.parametrize("migrate", [{"version": 3, "migrate": {2: _v2, 3: _v3}}, {"migrate": [_v2, _v3]}],
                         ids=["sparse", "list"])
def test_v1_and_v2_jobs_run_on_a_v3_worker_after_migration(make_app: Callable[..., Taskora],
                                                           migrate: dict[str, Any]) -> None:
    old = _producer(make_app, 1)
    v1 = [old.dispatch({"to": f"user{i}", "from": "ops"}) for i in range(3)]
    v2 = _producer(make_app, 2).dispatch({"to": "late", "priority": "high"})

    worker_app = make_app()
    worker_app.task("mail", _render, since=1, input=MailV3, **migrate)
    worker_app.start()

    assert [h.result(timeout=10) for h in v1] == ["user0/normal/ops", "user1/normal/ops", "user2/normal/ops"]
    assert v2.result(timeout=10) == "late/high/noreply"  # only step 3 ran


def test_a_sparse_version_without_its_step_passes_data_on(app: Taskora) -> None:
    task = app.task("mail", lambda d: d, version=3, migrate={3: _v3})
    assert task.options.version == 3
    assert task.io.versions.migrate("mail", {"to": "a"}, 1) == {"to": "a", "sender": "noreply"}


def test_a_list_of_steps_sets_the_version(app: Taskora) -> None:
    task = app.task("mail", lambda d: d, since=2, migrate=[_v2, _v3])
    assert (task.options.version, task.io.versions.since) == (4, 2)
    assert task.dispatch({}).fields(["_v"]) == {"_v": "4"}  # dispatch stamps the derived version


def test_a_job_below_since_fails_with_the_mismatch_error_naming_both_versions(make_app: Callable[..., Taskora]) -> None:
    handle = _producer(make_app, 1).dispatch({"to": "old"})
    calls: list[Any] = []
    worker_app = make_app()
    worker_app.task("mail", calls.append, version=3, since=2, migrate={3: _v3}, retry=3)
    worker_app.start()

    with pytest.raises(JobFailedError) as caught:
        handle.result(timeout=10)
    assert caught.value.error_type == "SchemaVersionMismatchError"
    assert "task 'mail': job payload version 1 is older than" in caught.value.error
    assert "(2..3, since..version)" in caught.value.error
    assert calls == []
    assert worker_app.inspect().failed(task="mail")[0].attempt == 1  # not retried


def test_a_job_newer_than_the_worker_waits_uncharged_for_a_newer_worker(make_app: Callable[..., Taskora],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A rolling deploy: a v2 job meets a v1 worker first. The v1 worker hands it back (delayed, attempt not
    counted, never failed), keeps running the older jobs queued behind it, and a v2 worker started later runs it
    at once: its maintenance takes the job back, long before the v1 worker's backoff (1 min here) ends."""
    monkeypatch.setattr(version_handoff, "BASE_MS", 60_000)
    newer = _producer(make_app, 2).dispatch({"to": "future"})
    older = [_producer(make_app, 1).dispatch({"to": f"old{i}"}) for i in range(3)]
    old_calls: list[Any] = []
    old_app = make_app()
    old_app.task("mail", lambda d: old_calls.append(d) or d["to"])
    old_app.start()

    assert [h.result(timeout=10) for h in older] == ["old0", "old1", "old2"]  # not starved behind the v2 job
    wait_until(lambda: newer.fields(["newerParks"]) == {"newerParks": "1"}, what="the v2 job handed back")
    assert newer.state() == "delayed" and newer.fields(["attempt"]) == {"attempt": "1"}
    assert old_app.inspect().migrations("mail").newer == {2: 1}
    assert old_app.inspect().failed(task="mail") == []

    new_app = make_app()
    new_app.task("mail", lambda d: f"v2 ran {d['to']}", version=2, migrate={2: _v2})
    new_app.start()
    assert newer.result(timeout=10) == "v2 ran future"
    assert old_calls == [{"to": f"old{i}"} for i in range(3)]  # the v1 worker never ran the v2 job
    assert newer.fields(["attempt"]) == {"attempt": "1"}  # handed back uncharged (maybe more than once: the v1
    # worker still runs and may claim it again before the v2 worker does; each time it hands it back)


def test_a_queue_of_newer_jobs_is_handed_back_with_a_growing_backoff(make_app: Callable[..., Taskora],
                                                                     caplog: pytest.LogCaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An old worker alone with newer jobs looks at each again after 1 s, 2 s, 4 s...: no busy loop; it says so
    once per version in its log."""
    monkeypatch.setattr(version_handoff, "_warned", set())  # the warning is once per process: start afresh
    handles = [_producer(make_app, 3).dispatch({"to": f"n{i}"}) for i in range(20)]
    old_app = make_app()
    old_app.task("mail", lambda d: d, version=2, migrate={2: _v2})
    with caplog.at_level("WARNING", logger="taskora.worker"):
        old_app.start()
        wait_until(lambda: old_app.inspect().migrations("mail").delayed.by_version == {3: 20},
                   what="20 v3 jobs handed back")
        wait_until(lambda: handles[0].fields(["newerParks"]) == {"newerParks": "2"}, timeout=10,
                   what="the first job met again after its 1 s backoff")
    parks = [int(h.fields(["newerParks"])["newerParks"]) for h in handles]
    assert max(parks) <= 3  # at most 1 s + 2 s of backoff have passed: no job was taken back a 4th time
    warnings = [r.getMessage() for r in caplog.records if "newer than this worker's version 2" in r.getMessage()]
    assert len(warnings) == 1 and "payload version 3" in warnings[0]
    assert old_app.inspect().failed(task="mail") == []
    old_app.close()
    assert old_app.adapter.purge("mail") == 20
    assert not old_app.adapter.raw_client().exists("taskora:{mail}:newer")  # the index goes with the jobs


def test_a_migration_step_that_raises_fails_the_job_with_its_reason(make_app: Callable[..., Taskora]) -> None:
    handle = _producer(make_app, 1).dispatch({"to": "x"})
    worker_app = make_app()
    worker_app.task("mail", lambda d: d, version=2, migrate={2: lambda d: d["missing"]}, retry=3)
    worker_app.start()

    with pytest.raises(JobFailedError, match=r"MigrationError: task 'mail': migration of a v1 job to v2 raised "
                                             r"KeyError: 'missing'"):
        handle.result(timeout=10)
    assert worker_app.inspect().failed(task="mail")[0].attempt == 1


def test_migrations_counts_waiting_and_delayed_jobs_per_version(make_app: Callable[..., Taskora]) -> None:
    v1 = _producer(make_app, 1)
    v1.dispatch({"to": "a"})
    v1.dispatch({"to": "b"})
    v1.dispatch({"to": "c"}, delay="1h")
    _producer(make_app, 2).dispatch({"to": "d"})
    inspector_app = make_app()
    inspector_app.task("mail", lambda d: d, version=3, since=1, migrate={2: _v2, 3: _v3})

    status = inspector_app.inspect().migrations("mail")

    assert (status.version, status.since, status.migrations) == (3, 1, 2)
    assert status.queue.by_version == {1: 2, 2: 1}
    assert status.delayed.by_version == {1: 1}
    assert (status.queue.oldest, status.delayed.oldest, status.can_bump_since) == (1, 1, 1)


def test_migrations_counts_across_script_calls_and_priorities(make_app: Callable[..., Taskora],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The counting script reads a bounded slice per call; a queue longer than one slice (and prioritized jobs,
    which sit in their own key) is counted in full; jobs above the app's version are reported as ``newer``."""
    monkeypatch.setattr(version_reads, "CHUNK", 3)
    v1 = _producer(make_app, 1)
    for i in range(4):
        v1.dispatch({"to": f"plain{i}"})
        v1.dispatch({"to": f"urgent{i}"}, priority=5)
    v3 = _producer(make_app, 3)
    for i in range(7):
        v3.dispatch({"to": f"later{i}"}, delay="1h")
    inspector_app = make_app()
    inspector_app.task("mail", lambda d: d, version=2, migrate={2: _v2})

    status = inspector_app.inspect().migrations("mail")

    assert (status.queue.by_version, status.delayed.by_version) == ({1: 8}, {3: 7})
    assert status.newer == {3: 7}


def test_migrations_of_an_empty_task_allow_since_up_to_the_version(app: Taskora) -> None:
    app.task("mail", lambda d: d, version=2, migrate={2: _v2})
    status = app.inspect().migrations("mail")
    assert (status.queue.oldest, status.delayed.total, status.can_bump_since) == (None, 0, 2)


def test_into_checks_a_step_result_against_its_schema() -> None:
    step = into(MailV3, lambda d: {**d, "priority": "low"})
    assert step({"to": "a", "sender": "s"}) == {"to": "a", "priority": "low", "sender": "s"}
    with pytest.raises(Exception, match="migration result: 1 validation error: sender: Field required"):
        step({"to": "a"})


@pytest.mark.parametrize(("options", "message"), [
    ({"version": 2, "since": 3}, r"task 'mail': since \(3\) is above version \(2\)"),
    ({"version": 3, "migrate": {4: _v2}}, "task 'mail': migrate key 4 is out of range"),
    ({"version": 3, "since": 2, "migrate": {2: _v2}}, "task 'mail': migrate key 2 is out of range"),
    ({"version": 3, "migrate": {"2": _v2}}, "task 'mail': migrate key '2' is out of range"),
    ({"version": 5, "migrate": [_v2, _v3]}, r"task 'mail': version=5 disagrees with since \(1\) \+ 2"),
    ({"version": 2, "migrate": {2: "upper"}}, "task 'mail': migration step to v2 must be a function"),
    ({"since": 0}, "task 'mail': since must be an integer >= 1"),
    ({"migrate": "nope"}, "task 'mail': migrate must be a dict"),
    ({"migrate": {2: _v2}}, "task 'mail': migrate given as a dict needs version="),
])  # fmt: skip
def test_bad_versioning_fails_at_declaration_naming_the_task(app: Taskora, options: dict[str, Any],
                                                             message: str) -> None:  # fmt: skip
    with pytest.raises(ConfigurationError, match=message):
        app.task("mail", lambda d: d, **options)
    assert "mail" not in app.tasks
