"""The board's JSON API on both engines: pages, actions, pagination, live events, mounting under a path."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from taskora import JobFailedError, Taskora, chain, chord
from taskora.board import create_board
from taskora.board.live import READY, EventHub
from taskora.board.views import WorkerRoster

from ..waiting import wait_until
from .helpers import PASSWORD, board_client, login


def failing_app(app: Taskora) -> tuple[Taskora, dict[str, bool]]:
    """An app whose task ``flaky`` fails until ``fixed["value"]`` is set, with a worker running."""
    fixed = {"value": False}

    def flaky(data: Any) -> str:
        if not fixed["value"]:
            raise RuntimeError(f"dependency down for {data}")
        return "recovered"

    app.task("flaky", flaky)
    app.start()
    return app, fixed


def failed_job(app: Taskora, data: Any = 1) -> str:
    handle = app.dispatch("flaky", data)
    with pytest.raises(JobFailedError):
        handle.result(timeout=10)
    return handle.id


def test_a_failed_job_shows_its_error_traceback_and_timeline(app: Taskora) -> None:
    failing_app(app)
    job_id = failed_job(app, {"n": 7})
    client, _ = board_client(app)
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["state"] == "failed" and job["error"] == "dependency down for {'n': 7}"
    assert "Traceback (most recent call last)" in job["traceback"] and "in flaky" in job["traceback"]
    assert [what for what, _ in job["timeline"]] == ["dispatched", "started", "finished"]
    assert job["data"] == {"n": 7} and job["attempt"] == 1 and job["maxAttempts"] == 1
    assert client.get("/api/jobs/no-such-job").status_code == 404


def test_retry_from_the_board_runs_the_job_again(app: Taskora) -> None:
    _, fixed = failing_app(app)
    job_id = failed_job(app)
    client, csrf = board_client(app)
    fixed["value"] = True
    reply = client.post(f"/api/jobs/{job_id}/retry", headers={"X-CSRF-Token": csrf}).json()
    assert reply == {"id": job_id, "task": "flaky", "retried": True}
    assert app.handle("flaky", job_id).result(timeout=10) == "recovered"
    again = client.post(f"/api/jobs/{job_id}/retry", headers={"X-CSRF-Token": csrf}).json()
    assert again["retried"] is False  # completed now: nothing to retry


def test_dead_letters_group_errors_and_retry_all_then_purge(app: Taskora) -> None:
    _, fixed = failing_app(app)
    ids = [failed_job(app, "same") for _ in range(2)] + [failed_job(app, "other")]
    client, csrf = board_client(app)
    dlq = client.get("/api/dlq").json()
    assert dlq["total"] == 3 and sorted(j["id"] for j in dlq["jobs"]) == sorted(ids)
    assert dlq["groups"][0] == {"error": "dependency down for same", "count": 2}
    assert client.post("/api/dlq/retry-all", headers={"X-CSRF-Token": csrf}).json() == {"retried": 3}
    wait_until(lambda: app.adapter.counts("flaky")["failed"] == 3, what="the retried jobs to fail again")
    assert client.post("/api/dlq/purge", headers={"X-CSRF-Token": csrf}).json() == {"deleted": 3}
    assert client.get("/api/dlq").json()["total"] == 0 and app.inspect().find(ids[0]) is None
    fixed["value"] = True


def test_a_task_page_reads_one_page_of_ids_newest_first_for_finished_jobs(app: Taskora) -> None:
    app.register_task("t", None)
    ids = [app.dispatch("t", i).id for i in range(7)]
    client, _ = board_client(app)
    first = client.get("/api/tasks/t/jobs?state=waiting&offset=0&limit=5").json()
    second = client.get("/api/tasks/t/jobs?state=waiting&offset=5&limit=5").json()
    assert first["total"] == 7 and len(first["jobs"]) == 5 and len(second["jobs"]) == 2
    assert [j["id"] for j in first["jobs"] + second["jobs"]] == ids  # oldest waiting first: claim order
    assert "data" not in first["jobs"][0]  # lists carry no payloads
    for bad, status in (("/api/tasks/nope/jobs", 404), ("/api/tasks/t/jobs?state=lost", 400),
                        ("/api/tasks/t/jobs?limit=0", 400), ("/api/tasks/t/jobs?offset=x", 400)):
        reply = client.get(bad)
        assert reply.status_code == status, (bad, reply.text)
    assert "nope" in client.get("/api/tasks/nope/jobs").json()["error"]


def test_the_overview_counts_every_task_and_purge_empties_one(app: Taskora) -> None:
    app.register_task("a", None)
    app.register_task("b", None)
    app.dispatch("a", 1)
    app.dispatch("b", 2, delay="1h")
    client, csrf = board_client(app)
    data = client.get("/api/overview").json()
    assert data["tasks"]["a"]["waiting"] == 1 and data["tasks"]["b"]["delayed"] == 1
    assert data["totals"]["waiting"] == 1 and data["totals"]["delayed"] == 1 and len(data["throughput"]) == 60
    assert client.post("/api/tasks/b/purge", headers={"X-CSRF-Token": csrf}).json() == {"task": "b", "deleted": 1}
    assert client.get("/api/overview").json()["tasks"]["b"]["delayed"] == 0


def test_schedules_pause_resume_and_trigger(app: Taskora) -> None:
    app.register_task("report", None)
    app.schedule("nightly", task="report", every="1h")
    app.schedules.sync()
    client, csrf = board_client(app)
    listed = client.get("/api/schedules").json()["schedules"]
    assert [(s["name"], s["task"], s["paused"]) for s in listed] == [("nightly", "report", False)]
    post = lambda path: client.post(path, headers={"X-CSRF-Token": csrf})  # noqa: E731
    assert post("/api/schedules/nightly/pause").json()["paused"] is True
    assert app.schedules.get("nightly").paused and app.schedules.get("nightly").next_run_ms is None
    assert post("/api/schedules/nightly/resume").json()["nextRun"] is not None
    job_id = post("/api/schedules/nightly/trigger").json()["jobId"]
    assert app.handle("report", job_id).state() == "waiting"
    assert post("/api/schedules/nope/pause").status_code == 404
    assert post("/api/schedules/nightly/explode").status_code == 400


def test_mounted_under_a_path_in_fastapi(app: Taskora) -> None:
    app.register_task("t", None)
    host = FastAPI()
    host.get("/health")(lambda: {"ok": True})
    host.mount("/board", create_board(app, auth=PASSWORD))
    client = TestClient(host)
    assert client.get("/health").json() == {"ok": True}
    page = client.get("/board/")
    assert page.status_code == 200 and '<base href="/board/">' in page.text
    assert client.get("/board/static/board.js").status_code == 200
    assert client.get("/board/api/overview").status_code == 401
    reply = client.post("/board/api/login", json={"password": PASSWORD})
    assert "Path=/board/" in reply.headers["set-cookie"] and "HttpOnly" in reply.headers["set-cookie"]
    assert client.get("/board/api/overview").json()["tasks"] == {"t": app.adapter.counts("t")}


def test_one_hub_reader_fans_events_out_to_every_listener(app: Taskora) -> None:
    app.register_task("t", None)
    hub = EventHub(app)

    async def two_listeners() -> list[tuple[str, list[dict[str, str]]]]:
        first, second = hub.subscribe(), hub.subscribe()
        assert [await asyncio.wait_for(q.get(), timeout=5) for q in (first, second)] == [READY, READY]
        job_id = await asyncio.to_thread(lambda: app.dispatch("t", 1).id)
        got = [await asyncio.wait_for(q.get(), timeout=5) for q in (first, second)]
        hub.unsubscribe(first)
        hub.unsubscribe(second)
        assert all(item == ("jobs", [{"task": "t", "event": "waiting", "jobId": job_id}]) for item in got)
        return got

    try:
        asyncio.run(two_listeners())
    finally:
        hub.stop()
    assert hub.listeners == 0


def test_a_listener_joining_a_reading_hub_is_ready_at_once_and_misses_no_later_event(app: Taskora) -> None:
    """READY is the page's cue to read again: it comes once every later event reaches the listener, whether the
    hub's reader was started for it or was already reading (the dispatch right after READY is the proof)."""
    app.register_task("t", None)
    hub = EventHub(app)

    async def late_listener() -> tuple[str, list[dict[str, str]]]:
        first = hub.subscribe()
        assert await asyncio.wait_for(first.get(), timeout=5) == READY
        late = hub.subscribe()
        assert late.get_nowait() == READY  # the reader was already reading: no wait
        job_id = await asyncio.to_thread(lambda: app.dispatch("t", 1).id)
        item = await asyncio.wait_for(late.get(), timeout=5)
        for queue in (first, late):
            hub.unsubscribe(queue)
        assert item == ("jobs", [{"task": "t", "event": "waiting", "jobId": job_id}])
        return item

    try:
        asyncio.run(late_listener())
    finally:
        hub.stop()


def test_a_reader_starting_while_redis_is_away_tries_again_and_is_then_ready(
        app: Taskora, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Finding where the streams end is the reader's first read: a Redis away then is waited out, as for its
    later reads, and the listener is READY once it is back (the thread died there before, silently)."""
    app.register_task("t", None)
    hub, failures = EventHub(app), [ConnectionError("Redis is away")]
    last_event_id = app.adapter.last_event_id

    def away_once(task: str) -> str:
        if failures:
            raise failures.pop()
        return last_event_id(task)

    monkeypatch.setattr(app.adapter, "last_event_id", away_once)

    async def listen() -> None:
        queue = hub.subscribe()
        assert await asyncio.wait_for(queue.get(), timeout=5) == READY
        hub.unsubscribe(queue)

    try:
        asyncio.run(listen())
    finally:
        hub.stop()
    assert failures == []


def test_listeners_coming_and_going_are_each_ready_and_the_last_hears_events(app: Taskora) -> None:
    """The reader ends once nobody listens. A listener arriving right after the last one left meets either that
    reader, still in its read, or a new one: READY and the events reach it both ways."""
    app.register_task("t", None)
    hub = EventHub(app)

    async def come_and_go() -> None:
        for _ in range(20):  # each round: the only listener leaves, a new one arrives at once
            queue = hub.subscribe()
            assert await asyncio.wait_for(queue.get(), timeout=5) == READY
            hub.unsubscribe(queue)
        last = hub.subscribe()
        assert await asyncio.wait_for(last.get(), timeout=5) == READY
        job_id = await asyncio.to_thread(lambda: app.dispatch("t", 1).id)
        assert await asyncio.wait_for(last.get(), timeout=5) == ("jobs", [{"task": "t", "event": "waiting",
                                                                            "jobId": job_id}])
        hub.unsubscribe(last)

    try:
        asyncio.run(come_and_go())
    finally:
        hub.stop()


def test_metrics_are_served_behind_the_boards_auth_when_taskora_prometheus_exists(
        app: Taskora, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    exposition = types.ModuleType("taskora.prometheus")
    exposition.render = lambda rendered_app: f"taskora_tasks {len(rendered_app.tasks)}\n"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "taskora.prometheus", exposition)
    app.register_task("t", None)
    client = TestClient(create_board(app, auth=PASSWORD))
    assert client.get("/metrics").status_code == 401
    reply = client.get("/metrics", headers={"Authorization": f"Bearer {PASSWORD}"})
    assert reply.text == "taskora_tasks 1\n" and reply.headers["content-type"].startswith("text/plain")


def test_login_then_session_reports_the_token(app: Taskora) -> None:
    client = TestClient(create_board(app, auth=PASSWORD))
    csrf = login(client)
    assert client.get("/api/session").json() == {"authenticated": True, "mode": "password", "readOnly": False,
                                                 "title": "taskora", "csrf": csrf}


def test_a_workflow_shows_its_nodes_by_layer_and_a_running_one_can_be_cancelled(app: Taskora) -> None:
    fetch = app.task("fetch", lambda data: data["id"] * 10)
    app.task("total", lambda values: sum(values))
    app.register_task("never_run", None)  # no handler: the chain waits on it
    app.start()
    done = chord([fetch.s({"id": i}) for i in (1, 2, 3)], app.get_task("total").s()).dispatch()
    assert done.result(timeout=10) == 60
    client, csrf = board_client(app)
    shown = client.get(f"/api/workflows/{done.id}").json()
    assert shown["state"] == "completed" and shown["result"] == 60
    assert [(n["task"], n["layer"], n["state"]) for n in shown["nodes"]] == [
        ("fetch", 0, "completed"), ("fetch", 0, "completed"), ("fetch", 0, "completed"), ("total", 1, "completed")]
    running = chain(app.get_task("never_run").s(1), fetch.s()).dispatch()
    assert [w["id"] for w in client.get("/api/workflows").json()["workflows"]] == [running.id, done.id]
    assert client.post(f"/api/workflows/{running.id}/cancel", headers={"X-CSRF-Token": csrf}).json()["cancelled"]
    assert client.get(f"/api/workflows/{running.id}").json()["state"] == "cancelled"
    assert client.get("/api/workflows/no-such").status_code == 404
    assert client.post("/api/workflows/no-such/cancel", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_a_finished_job_can_be_deleted_and_a_pending_one_cannot(app: Taskora) -> None:
    failing_app(app)
    failed = failed_job(app)
    waiting = app.dispatch("flaky", 2, delay="1h").id
    client, csrf = board_client(app)
    post = lambda path: client.post(path, headers={"X-CSRF-Token": csrf})  # noqa: E731
    refused = post(f"/api/jobs/{waiting}/delete")
    assert refused.status_code == 409 and "delayed" in refused.json()["error"]
    assert app.handle("flaky", waiting).state() == "delayed" and app.adapter.counts("flaky")["delayed"] == 1
    assert post(f"/api/jobs/{failed}/delete").json() == {"id": failed, "task": "flaky", "deleted": True,
                                                         "state": "failed"}
    assert app.inspect().find(failed) is None and app.adapter.counts("flaky")["failed"] == 0
    assert app.adapter.get_logs("flaky", failed) == []
    assert post(f"/api/jobs/{failed}/delete").status_code == 404


def test_the_hub_of_an_app_without_tasks_waits_instead_of_spinning(make_app: Any) -> None:
    app = make_app()
    hub = EventHub(app)
    reads: list[int] = []
    original = app.adapter.read_events
    app.adapter.read_events = lambda *a, **k: reads.append(1) or original(*a, **k)  # type: ignore[method-assign]

    async def listen() -> None:
        queue = hub.subscribe()
        assert await asyncio.to_thread(hub.reading.wait, 5)
        await asyncio.sleep(0.3)
        hub.unsubscribe(queue)

    try:
        asyncio.run(listen())
    finally:
        hub.stop()
    assert reads == []


def test_refreshing_pages_ping_the_workers_at_most_once_per_interval(app: Taskora,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = app.broadcast
    monkeypatch.setattr(app, "broadcast", lambda command, **kw: asked.append(command) or real(command, **kw))
    app.register_task("t", None)
    client, _ = board_client(app)
    for _ in range(3):
        assert client.get("/api/overview").json()["workers"] == []
    assert asked == ["ping"]
    roster = WorkerRoster(app, ttl_s=0)
    roster.online()  # the first answer waits for the ping
    assert asked == ["ping"] * 2
    assert roster.online() == []  # a stale answer is given at once, and asked again in the background
    wait_until(lambda: asked == ["ping"] * 3, what="the background ping")


def test_a_stale_roster_answers_at_once_and_refreshes_in_the_background(app: Taskora,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    gate, answers, pings = threading.Event(), [["w1@host"], ["w1@host", "w2@host"]], []

    def slow_ping(command: str, **kw: Any) -> dict[str, str]:
        pings.append(command)
        if len(pings) == 2:
            assert gate.wait(10)  # the second ping (the refresh) is held: online() must not wait for it
        return dict.fromkeys(answers[min(len(pings), 2) - 1], "pong")

    monkeypatch.setattr(app, "broadcast", slow_ping)
    roster = WorkerRoster(app, ttl_s=0)
    assert roster.online() == ["w1@host"]
    assert roster.online() == ["w1@host"]  # returned while the refresh waits on the gate
    gate.set()
    wait_until(lambda: roster.online() == ["w1@host", "w2@host"], what="the refreshed roster")


def test_versions_show_queued_jobs_per_payload_version_and_when_since_can_be_raised(
        make_app: Any) -> None:  # fmt: skip
    old, new = make_app(), make_app()
    old.task("mail", lambda d: d, version=2, migrate={2: lambda d: {**d, "v2": True}})
    old.dispatch("mail", {"to": "a"}), old.dispatch("mail", {"to": "b"}), old.dispatch("mail", {"to": "c"}, delay="1h")
    new.task("mail", lambda d: d, version=3, migrate={2: lambda d: {**d, "v2": True}, 3: lambda d: d})
    new.task("plain", lambda d: d)
    client, _ = board_client(new)

    body = client.get("/api/versions").json()
    mail = {"task": "mail", "version": 3, "since": 1, "migrations": 2, "waiting": {"2": 2}, "delayed": {"2": 1},
            "newer": {}, "canBumpSince": 2, "raisable": True}
    plain = {"task": "plain", "version": 1, "since": 1, "migrations": 0, "waiting": {}, "delayed": {},
             "newer": {}, "canBumpSince": 1, "raisable": False}
    assert body == {"tasks": [mail, plain]}
    new.dispatch("mail", {"to": "d"}, delay="2h")
    assert client.get("/api/versions?task=mail").json()["tasks"][0]["delayed"] == {"2": 1, "3": 1}
    old_board, _ = board_client(old)  # the v2 deployment sees the v3 job as waiting for a newer worker
    assert old_board.get("/api/versions?task=mail").json()["tasks"][0]["newer"] == {"3": 1}
    assert client.get("/api/versions?task=nope").status_code == 404
    assert TestClient(create_board(new, auth=PASSWORD)).get("/api/versions").status_code == 401
