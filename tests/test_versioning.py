"""Payload versions on both engines: jobs dispatched by an older producer (v1, v2) run on a worker upgraded
to v3 through sparse and list migrations, then validation; jobs outside ``since..version`` fail with
SchemaVersionMismatchError naming both versions; ``inspect().migrations()`` counts queued jobs per version;
bad versioning fails at declaration naming the task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from taskora import ConfigurationError, JobFailedError, Taskora, into


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


def test_a_job_newer_than_the_worker_is_never_run(make_app: Callable[..., Taskora]) -> None:
    handle = _producer(make_app, 5).dispatch({"to": "future"})
    calls: list[Any] = []
    worker_app = make_app()
    worker_app.task("mail", calls.append, version=3, migrate={2: _v2})
    worker_app.start()

    with pytest.raises(JobFailedError, match="job payload version 5 is newer than the versions this worker accepts"):
        handle.result(timeout=10)
    assert calls == []


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
