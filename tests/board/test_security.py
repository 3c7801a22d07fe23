"""The board's gate: authentication on by default, no data before login, CSRF on every action, read-only."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from starlette.testclient import TestClient

from taskora import Taskora
from taskora.board import create_board
from taskora.board.app import LOGIN_FAILURE_DELAY_S
from taskora.errors import ConfigurationError

from .helpers import PASSWORD, board_client, login

READS = ["/api/overview", "/api/tasks/t/jobs?state=waiting", "/api/dlq", "/api/schedules", "/api/events"]


@pytest.fixture
def app_with_job(app: Taskora) -> tuple[Taskora, str]:
    app.register_task("t", None)
    return app, app.dispatch("t", {"card": "4111-secret-payload"}).id


def test_a_board_without_a_password_is_refused_unless_auth_is_turned_off(app: Taskora,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKORA_BOARD_PASSWORD", raising=False)
    with pytest.raises(ConfigurationError, match="TASKORA_BOARD_PASSWORD"):
        create_board(app)
    for bad in ("", 42):
        with pytest.raises(ConfigurationError, match="auth"):
            create_board(app, auth=bad)
    assert TestClient(create_board(app, auth=False)).get("/api/overview").status_code == 200


def test_the_password_comes_from_the_environment(app: Taskora, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKORA_BOARD_PASSWORD", "from-env")
    client = TestClient(create_board(app))
    assert client.post("/api/login", json={"password": PASSWORD}).status_code == 401
    login(client, "from-env")
    assert client.get("/api/overview").status_code == 200


def test_before_login_nothing_is_shown(app_with_job: tuple[Taskora, str]) -> None:
    app, job_id = app_with_job
    client = TestClient(create_board(app, auth=PASSWORD))
    for path in [*READS, f"/api/jobs/{job_id}"]:
        reply = client.get(path)
        assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"}), path
    for wrong in ("wrong", None, ["x"]):
        started = time.monotonic()
        reply = client.post("/api/login", json={"password": wrong})
        assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"})
        assert time.monotonic() - started >= LOGIN_FAILURE_DELAY_S  # guessing is slowed
    page, session = client.get("/"), client.get("/api/session").json()
    assert page.status_code == 200 and job_id not in page.text and "secret-payload" not in page.text
    assert session["authenticated"] is False and session["csrf"] is None


def test_after_login_the_job_is_readable(app_with_job: tuple[Taskora, str]) -> None:
    app, job_id = app_with_job
    client, _ = board_client(app)
    assert client.get("/api/overview").json()["tasks"]["t"]["waiting"] == 1
    assert client.get(f"/api/jobs/{job_id}").json()["data"] == {"card": "4111-secret-payload"}
    client.post("/api/logout")
    assert client.get("/api/overview").status_code == 401


def test_a_forged_cookie_is_not_a_session(app: Taskora) -> None:
    client = TestClient(create_board(app, auth=PASSWORD))
    client.cookies.set("taskora_board_session", "abc.1.0000")
    assert client.get("/api/overview").status_code == 401


def test_actions_need_the_sessions_csrf_token(app_with_job: tuple[Taskora, str]) -> None:
    app, job_id = app_with_job
    client, csrf = board_client(app)
    other_csrf = login(TestClient(create_board(app, auth=PASSWORD)))  # another board, another secret
    for header in ({}, {"X-CSRF-Token": "nope"}, {"X-CSRF-Token": other_csrf}):
        reply = client.post(f"/api/jobs/{job_id}/cancel", headers=header)
        assert reply.status_code == 403 and "CSRF" in reply.json()["error"]
    assert app.handle("t", job_id).state() == "waiting"
    reply = client.post(f"/api/jobs/{job_id}/cancel", headers={"X-CSRF-Token": csrf})
    assert reply.json()["outcome"] == "cancelled" and app.handle("t", job_id).state() == "cancelled"


def test_read_only_refuses_every_action(app_with_job: tuple[Taskora, str]) -> None:
    app, job_id = app_with_job
    client, csrf = board_client(app, read_only=True)
    assert client.get("/api/session").json()["readOnly"] is True
    for path in (f"/api/jobs/{job_id}/cancel", f"/api/jobs/{job_id}/retry", "/api/dlq/retry-all", "/api/dlq/purge",
                 "/api/tasks/t/purge", "/api/tasks/t/clean", "/api/schedules/s/pause"):
        assert client.post(path, headers={"X-CSRF-Token": csrf}).status_code == 403, path
    assert app.handle("t", job_id).state() == "waiting"


def test_a_hook_lets_the_host_framework_decide(app_with_job: tuple[Taskora, str]) -> None:
    app, job_id = app_with_job

    def hook(request: object) -> bool:
        if getattr(request, "headers", {}).get("x-user") == "boom":
            raise RuntimeError("auth backend down")
        return getattr(request, "headers", {}).get("x-user") == "admin"

    client = TestClient(create_board(app, auth=hook))
    assert client.get("/api/overview").status_code == 401
    assert client.get("/api/overview", headers={"x-user": "boom"}).status_code == 401
    admin = {"x-user": "admin"}
    csrf = client.get("/api/session", headers=admin).json()["csrf"]
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=admin).status_code == 403
    assert client.post(f"/api/jobs/{job_id}/cancel", headers={**admin, "X-CSRF-Token": csrf}).status_code == 200


def test_a_bearer_password_serves_tools_without_a_cookie(app_with_job: tuple[Taskora, str]) -> None:
    app, job_id = app_with_job
    client = TestClient(create_board(app, auth=PASSWORD))
    assert client.get("/api/overview", headers={"Authorization": "Bearer wrong"}).status_code == 401
    bearer = {"Authorization": f"Bearer {PASSWORD}"}
    assert client.get("/api/overview", headers=bearer).status_code == 200
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=bearer).status_code == 200


def test_the_core_never_imports_the_web_stack() -> None:
    code = ("import sys, taskora, taskora.cli, taskora.inspector; "
            "web = [m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn') or 'taskora.board' in m]; "
            "sys.exit(str(web) if web else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_secret_keys_are_masked_at_any_depth_before_leaving_the_server(app: Taskora) -> None:
    app.register_task("t", None)
    data = {"user": {"name": "ada", "Password": "hunter2"}, "calls": [{"api-key": "k-123", "url": "/x"}],
            "pin": "0000"}
    job_id = app.dispatch("t", data).id
    client, _ = board_client(app)
    reply = client.get(f"/api/jobs/{job_id}")
    assert reply.json()["data"] == {"user": {"name": "ada", "Password": "****"},
                                    "calls": [{"api-key": "****", "url": "/x"}], "pin": "0000"}
    assert "hunter2" not in reply.text and "k-123" not in reply.text
    own, _ = board_client(app, redact=["pin"])
    assert own.get(f"/api/jobs/{job_id}").json()["data"]["pin"] == "****"
    everything, _ = board_client(app, redact=())
    assert everything.get(f"/api/jobs/{job_id}").json()["data"] == data
    for bad in ("password", [""], [3]):
        with pytest.raises(ConfigurationError, match="redact"):
            create_board(app, auth=PASSWORD, redact=bad)
