"""``singleton=True`` enforced by a Python worker for every job of the task, on both engines, including
jobs a TypeScript producer wrote: those carry no concurrency key (TypeScript enforces ``singleton`` in
its worker, from the declaration), so the worker declares the task singleton in Redis as it starts and
the claim script starts no job of it while one is active."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from taskora import Taskora
from tests.paths import INTEROP_FIXTURES as FIXTURES

LOCK_MS = 30_000


def typescript_job_fields() -> dict[str, str]:
    """The hash TypeScript's producer writes for a plain dispatch (recording 02, its job), as a template."""
    rec = json.loads((FIXTURES / "02-dispatch-complete.json").read_text())
    snapshot = rec["snapshots"]["dispatched"]
    (job,) = [v["value"] for v in snapshot.values() if v["type"] == "hash" and "state" in v["value"]]
    return dict(job)


def dispatch_as_typescript(app: Taskora, task: str, data: Any) -> str:
    """Write a waiting job as TypeScript's ENQUEUE does (hash, wait list, event, marker): no concurrency key."""
    job_id, prefix = str(uuid.uuid4()), app.adapter.keys.task_prefix(task)  # type: ignore[attr-defined]
    fields = dict(typescript_job_fields(), data=json.dumps(data), ts=str(app.adapter.now_ms()))
    client = app.adapter.raw_client()
    client.hset(prefix + job_id, mapping=fields)
    client.lpush(prefix + "wait", job_id)
    client.xadd(prefix + "events", {"event": "waiting", "jobId": job_id})
    client.zadd(prefix + "marker", {"0": 0})
    return job_id


def claim(app: Taskora, task: str) -> Any:
    return app.adapter.claim(task, uuid.uuid4().hex, LOCK_MS)


def test_the_template_is_a_typescript_job_without_a_concurrency_key() -> None:
    fields = typescript_job_fields()
    assert fields["state"] == "waiting" and "concurrencyKey" not in fields


def test_a_declared_singleton_claims_no_second_typescript_job_while_one_is_active(app: Taskora) -> None:
    task = app.task("nightly", lambda d: d, singleton=True)
    ids = [dispatch_as_typescript(app, "nightly", {"n": n}) for n in range(3)]
    app.adapter.declare_singleton(task.name, True)

    first = claim(app, "nightly")
    assert first.job.id == ids[0]
    held = claim(app, "nightly")
    assert held.job is None
    assert app.adapter.raw_client().llen(app.adapter.keys.task_prefix("nightly") + "wait") == 2  # nothing taken
    app.adapter.ack(first.job, app.serializer.dumps(0))
    assert claim(app, "nightly").job.id == ids[1]


def test_a_worker_of_a_task_not_singleton_clears_the_declaration(app: Taskora) -> None:
    app.task("nightly", lambda d: d)
    app.adapter.declare_singleton("nightly", True)
    ids = [dispatch_as_typescript(app, "nightly", {"n": n}) for n in range(2)]
    app.start()  # this worker's task is not singleton: it clears the declaration and runs both at once
    assert app.adapter.raw_client().exists(app.adapter.keys.task_prefix("nightly") + "singleton") == 0
    assert sorted(app.tasks["nightly"].handle(i).result(timeout=10)["n"] for i in ids) == [0, 1]


def test_two_workers_never_run_two_jobs_of_a_singleton_task_at_once_whoever_produced_them(make_app: Any) -> None:
    apps = [make_app(), make_app()]  # two workers on one store, four slots each
    running, peak, lock = set(), [0], threading.Lock()
    over = threading.Event()

    def handler(data: Any) -> Any:
        with lock:
            running.add(data["n"])
            peak[0] = max(peak[0], len(running))
            if len(running) > 1:
                over.set()
        over.wait(0.05)  # a second job starting now would be seen running with this one
        with lock:
            running.discard(data["n"])
        return data["n"]

    for app in apps:
        app.task("nightly", handler, singleton=True, concurrency=4)
    ids = [dispatch_as_typescript(apps[0], "nightly", {"n": n}) for n in range(6)]
    ids += [apps[1].tasks["nightly"].dispatch({"n": n}).id for n in range(6, 9)]  # Python's: keyed __singleton__
    for app in apps:
        app.start()
    handle = apps[0].tasks["nightly"].handle
    assert sorted(handle(i).result(timeout=30) for i in ids) == list(range(9))
    assert peak[0] == 1
