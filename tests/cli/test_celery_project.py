"""The CLI on a Flask-style Celery project: ``-A app.celery``, the ``celery@%h`` node name, its tasks living
in an ``include=``d module, and its ``broker_connection_*`` settings."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from taskora.compat import Celery

from ..processes import kill_process_group
from ..redis_server import RedisServer, free_port, quiet_port
from .helpers import ROOT, wait_until

APP = """
    import os
    from taskora.compat import Celery

    app = object()  # stands for the Flask app of a Flask project: not a task queue app
    celery = Celery("flaskproj", broker=os.environ["REDIS_URL"], include=["jobs"])
    celery.conf.broker_connection_retry_on_startup = os.environ.get("RETRY_ON_STARTUP", "1") == "1"
"""
JOBS = """
    from app import celery

    @celery.task(name="jobs.add")
    def add(x, y):
        return x + y
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in {"app.py": APP, "jobs.py": JOBS}.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def _env(url: str, project: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, REDIS_URL=url, PYTHONUNBUFFERED="1", **extra,
                PYTHONPATH=os.pathsep.join([str(project), str(ROOT), os.environ.get("PYTHONPATH", "")]))


def cli(url: str, project: Path, *args: str, input: str | None = None,
        **extra: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run([sys.executable, "-m", "taskora", *args], cwd=project, env=_env(url, project, **extra),
                          capture_output=True, text=True, timeout=60, input=input)


@pytest.fixture
def worker(redis_url: str, project: Path) -> Iterator[subprocess.Popen[Any]]:
    """``taskora worker -A app.celery`` with no ``-n``, in its own session; killed (by pid) afterwards."""
    log = open(project / "worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "app.celery", "-P", "threads",
                             "-c", "2", "-l", "info"], cwd=project, env=_env(redis_url, project), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    yield proc
    kill_process_group(proc)
    log.close()


@pytest.fixture
def client(redis_url: str) -> Iterator[Celery]:
    app = Celery("client", broker=redis_url)
    yield app
    app.close()


def test_purge_and_status_see_the_tasks_of_included_modules(client: Celery, redis_url: str, project: Path) -> None:
    for i in range(5):
        client.send_task("jobs.add", args=[i, i])
    status = cli(redis_url, project, "-A", "app.celery", "status", "--json", "-t", "0.2")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["tasks"]["jobs.add"]["waiting"] == 5
    purged = cli(redis_url, project, "-A", "app.celery", "purge", "-f")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith("Purged 5 jobs from ")


def test_worker_for_a_flask_style_app_is_celery_at_host(client: Celery, redis_url: str, project: Path,
                                                        worker: subprocess.Popen[Any]) -> None:  # fmt: skip
    node = f"celery@{socket.gethostname()}"

    def answered() -> bool:
        assert worker.poll() is None, (project / "worker.log").read_text()
        return node in (client.control.inspect(destination=[node], timeout=0.3).ping() or {})

    wait_until(answered, what=f"{node} to answer ping")
    called = cli(redis_url, project, "-A", "app.celery", "call", "jobs.add", "-a", "[20, 22]", "--wait",
                 "--timeout", "15", "--json")
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["result"] == 42
    job_id = json.loads(called.stdout)["id"]
    result = cli(redis_url, project, "-A", "app.celery", "result", job_id, "--json")
    assert json.loads(result.stdout)["state"] == "completed"


def test_retry_on_startup_off_exits_3_at_once(project: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    out = cli(dead, project, "worker", "-A", "app.celery", "-P", "solo", RETRY_ON_STARTUP="0")
    assert out.returncode == 3, out.stderr
    assert "Trying again" not in out.stderr and "retrying on startup is off" in out.stderr


def test_control_revoke_goes_through_the_celery_app(client: Celery, redis_url: str, project: Path) -> None:
    sent = client.send_task("jobs.add", args=[1, 2])
    out = cli(redis_url, project, "-A", "app.celery", "control", "revoke", sent.id)
    assert out.returncode == 0, out.stderr
    assert f"tasks flagged as revoked: {sent.id}" in out.stdout
    assert client.AsyncResult(sent.id).state == "REVOKED"


def test_shell_and_report_for_a_celery_app(redis_url: str, project: Path) -> None:
    script = "print('got', add.name, type(celery).__name__, app is celery)\nprint(add.delay(2, 3).id)\n"
    shell = cli(redis_url, project, "-A", "app.celery", "shell", "-q", input=script)
    assert shell.returncode == 0, shell.stderr
    assert "got jobs.add Celery True" in shell.stdout  # the include= module's task, by its short name
    secret = redis_url.replace("redis://", "redis://:hunter2@")
    report = cli(secret, project, "-A", "app.celery", "report")
    assert report.returncode == 0, report.stderr
    assert "hunter2" not in report.stdout and "(Celery 'flaskproj', " in report.stdout
    assert "broker_connection_retry_on_startup: True" in report.stdout  # the app's own settings, censored


def test_worker_for_a_celery_app_waits_for_redis_with_the_apps_retry_settings(project: Path) -> None:
    port = quiet_port()  # told to the worker long before the server takes it
    url = f"redis://127.0.0.1:{port}/0"
    log_path = project / "early.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "app.celery", "-P", "threads",
                                 "-c", "1"], cwd=project, env=_env(url, project),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    server = RedisServer(port=port)
    try:
        wait_until(lambda: "Trying again in 2.00 seconds... (1/100)" in log_path.read_text(),
                   what="the first retry to be logged")
        server.start()
        app = Celery("client", broker=url)
        try:
            sent = app.send_task("jobs.add", args=[7, 8])
            wait_until(lambda: app.AsyncResult(sent.id).state == "SUCCESS", timeout=20, what="the job to succeed")
        finally:
            app.close()
    finally:
        kill_process_group(proc)
        server.stop()
