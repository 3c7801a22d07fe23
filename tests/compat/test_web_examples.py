"""examples/flask_app and examples/fastapi_app, migrated by the import rewrite, each served by a real
``taskora worker`` subprocess and driven through the framework's own test client (Flask's
``app.test_client()``, FastAPI's ``TestClient``) in a client process, the way their tutorials run them."""

from __future__ import annotations

import pytest
import redis

from .projects.harness import WorkerProcess, migrate, project_env, run_client

pytestmark = pytest.mark.redis_only


def _db_url(redis_server, db: int) -> str:
    url = f"redis://127.0.0.1:{redis_server.port}/{db}"
    redis.Redis.from_url(url).flushdb()
    return url


def _serve(project, env, app_spec: str):
    """``taskora worker -A <app_spec>`` in the project folder (stopped by the fixture)."""
    args = ["worker", "-A", app_spec, "-l", "info", "-P", "threads", "-c", "2"]
    return WorkerProcess(project, env, args, project / "worker.log")


@pytest.fixture(scope="module")
def flask_site(tmp_path_factory, redis_server):
    pytest.importorskip("flask", reason="the Flask example needs the test extra (pip install -e '.[test]')")
    project = migrate("flask_app", tmp_path_factory.mktemp("flask"))
    env = project_env(_db_url(redis_server, 11), STEP_SECONDS="0.2")
    process = _serve(project, env, "app.celery")
    yield project, env
    assert process.stop() is not None, process.output()


@pytest.fixture(scope="module")
def flask_factory_site(tmp_path_factory, redis_server):
    """The current Flask docs' layout: `taskora worker -A make_celery` finds the one app in that module."""
    pytest.importorskip("flask", reason="the Flask example needs the test extra (pip install -e '.[test]')")
    project = migrate("flask_app", tmp_path_factory.mktemp("flask_factory"))
    url = _db_url(redis_server, 13)
    env = project_env(url, FLASK_CELERY__broker_url=url, FLASK_CELERY__result_backend=url,
                      FLASK_PROCESS_STEP_SECONDS="0.2")
    process = _serve(project, env, "make_celery")
    yield project, env
    assert process.stop() is not None, process.output()


@pytest.fixture(scope="module")
def fastapi_site(tmp_path_factory, redis_server):
    pytest.importorskip("fastapi", reason="the FastAPI example needs the test extra (pip install -e '.[test]')")
    pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (the test extra)")
    project = migrate("fastapi_app", tmp_path_factory.mktemp("fastapi"))
    url = _db_url(redis_server, 12)
    env = project_env(url, CELERY_BROKER_URL=url, CELERY_RESULT_BACKEND=url, SECONDS_PER_UNIT="0.1")
    process = _serve(project, env, "worker.celery")
    yield project, env
    assert process.stop() is not None, process.output()


FLASK_POLL = """
    import json, time
    from app import app

    client = app.test_client()

    def poll(location, until, seen):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = client.get(location).get_json()
            seen.append(body["state"])
            if until(body):
                return body
            time.sleep(0.02)
        raise SystemExit(f"gave up polling {location}: {seen[-5:]}")
"""


def test_flask_add_runs_on_the_worker_and_is_polled_to_success(flask_site):
    project, env = flask_site
    out = run_client(project, env, FLASK_POLL + """
    started = client.post("/add", json={"a": 2, "b": 40})
    seen = []
    body = poll(started.headers["Location"], lambda b: b["state"] == "SUCCESS", seen)
    print(json.dumps({"code": started.status_code, "id": started.get_json()["task_id"], "body": body,
                      "location": started.headers["Location"]}))
    """)
    assert out["code"] == 202 and out["location"] == f"/status/{out['id']}"
    assert out["body"] == {"state": "SUCCESS", "result": 42}


def test_flask_long_task_reports_progress_from_the_app_context(flask_site):
    project, env = flask_site
    out = run_client(project, env, FLASK_POLL + """
    started = client.post("/longtask", json={"total": 8})
    seen, progress = [], []
    def until(body):
        if body["state"] == "PROGRESS":
            progress.append(body)
        return body["state"] in ("SUCCESS", "FAILURE")
    body = poll(started.headers["Location"], until, seen)
    print(json.dumps({"body": body, "progress": progress[:1], "states": sorted(set(seen))}))
    """)
    assert out["body"] == {"state": "SUCCESS", "current": 8, "total": 8, "status": "Monthly report: done",
                           "result": 80}
    assert "PROGRESS" in out["states"]
    first = out["progress"][0]
    assert first["total"] == 8 and first["status"].startswith("Monthly report: step ")


def test_flask_status_never_answers_one_state_with_another_states_info(flask_site):
    # Given the status view polled without a pause while 30 tasks go PENDING -> PROGRESS -> SUCCESS: a view that
    # read the state and its info in two reads answered PROGRESS with "Pending..." and SUCCESS with a step's
    # meta when the task moved on between them (seen in 2 runs of 2 before the view read them as one pair)
    project, env = flask_site
    out = run_client(project, env, """
    import json, time
    from app import app

    client = app.test_client()
    mixed, bodies = [], 0
    for _ in range(30):
        location = client.post("/longtask", json={"total": 1}).headers["Location"]
        deadline, body = time.monotonic() + 30, {"state": "PENDING"}
        while body["state"] != "SUCCESS" and time.monotonic() < deadline:
            body = client.get(location).get_json()
            bodies += 1
            if body["state"] == "PENDING":
                expected = "Pending..."
            elif body["state"] == "PROGRESS":
                expected = "Monthly report: step 0"
            else:
                expected = "Monthly report: done"
            if body.get("status") != expected:
                mixed.append(body)
    print(json.dumps({"mixed": mixed, "bodies": bodies, "last": body}))
    """)
    # Then every answer is one state with its own info
    assert out["mixed"] == [] and out["bodies"] > 60
    assert out["last"] == {"state": "SUCCESS", "current": 1, "total": 1, "status": "Monthly report: done", "result": 10}


FACTORY_CLIENT = """
    import json, time
    from task_app import create_app

    client = create_app().test_client()

    def poll(result_id, seen):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = client.get(f"/tasks/result/{result_id}").get_json()
            seen.append(body)
            if body["ready"]:
                return body
            time.sleep(0.02)
        raise SystemExit(f"gave up polling {result_id}: {seen[-3:]}")
"""


def test_flask_factory_shared_task_result_is_polled_through_async_result(flask_factory_site):
    project, env = flask_factory_site
    out = run_client(project, env, FACTORY_CLIENT + """
    result_id = client.post("/tasks/add", data={"a": 20, "b": 22}).get_json()["result_id"]
    print(json.dumps(poll(result_id, [])))
    """)
    assert out == {"ready": True, "successful": True, "value": 42}


def test_flask_factory_progress_runs_in_the_app_context(flask_factory_site):
    project, env = flask_factory_site
    out = run_client(project, env, FACTORY_CLIENT + """
    result_id = client.post("/tasks/process", data={"total": 6}).get_json()["result_id"]
    seen = []
    done = poll(result_id, seen)
    progress = [b["value"] for b in seen if not b["ready"] and b["value"]]
    print(json.dumps({"done": done, "progress": progress}))
    """)
    assert out["done"] == {"ready": True, "successful": True, "value": {"current": 6, "total": 6}}
    assert out["progress"] and all(p["total"] == 6 and 1 <= p["current"] <= 6 for p in out["progress"])


FASTAPI_CLIENT = """
    import json, time
    from fastapi.testclient import TestClient
    from main import app

    client = TestClient(app)

    def poll(task_id):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = client.get(f"/tasks/{task_id}").json()
            if body["task_status"] in ("SUCCESS", "FAILURE"):
                return body
            time.sleep(0.02)
        raise SystemExit(f"gave up polling {task_id}")
"""


def test_fastapi_task_started_and_polled_through_async_result(fastapi_site):
    project, env = fastapi_site
    out = run_client(project, env, FASTAPI_CLIENT + """
    started = client.post("/tasks", json={"type": 1})
    task_id = started.json()["task_id"]
    first = client.get(f"/tasks/{task_id}").json()["task_status"]
    print(json.dumps({"code": started.status_code, "first": first, "done": poll(task_id), "id": task_id}))
    """)
    assert out["code"] == 200  # the tutorial returns a JSONResponse, which overrides the route's status_code=201
    assert out["first"] in ("PENDING", "STARTED", "SUCCESS")
    assert out["done"] == {"task_id": out["id"], "task_status": "SUCCESS", "task_result": True}


def test_fastapi_failed_task_reports_failure_with_the_error(fastapi_site):
    project, env = fastapi_site
    out = run_client(project, env, FASTAPI_CLIENT + """
    task_id = client.post("/divide", json={"x": 1, "y": 0}).json()["task_id"]
    print(json.dumps(poll(task_id)))
    """)
    assert out["task_status"] == "FAILURE" and out["task_result"].startswith("ZeroDivisionError(")
