"""Celery's Django fix-up on a real Django project (sqlite file database) and a real worker on Redis.

Django's settings are process-global, so each scenario runs in a fresh interpreter: ``django.setup()``, a
Celery-style app configured from ``django.conf:settings`` (``CELERY`` namespace), an ``app.Worker`` started in a
thread, and a task that queries the ORM. Django only closes connections at the end of a web request; in a
worker nothing would, so the fix-up closes them after each task (``task_postrun``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.waiting import wait_until

pytest.importorskip("django", reason="the Django fix-up tests need Django (pip install -e '.[test]')")
pytestmark = pytest.mark.redis_only

SETTINGS = """
    SECRET_KEY = "test only"
    INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
    DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r}, "CONN_MAX_AGE": 0}}}}
    USE_TZ = True
    CELERY_BROKER_URL = {url!r}
    CELERY_RESULT_BACKEND = {url!r}
"""

SCRIPT = """
    import json, os, sys, threading
    import django
    os.environ["DJANGO_SETTINGS_MODULE"] = "fixup_settings"
    from django.core.management import call_command
    from django.db import connections
    from taskora.compat import Celery

    app = Celery("fixupproj", **json.loads(sys.argv[1]))
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.loader.import_default_modules()  # the fix-up sets Django up here, before task modules import models
    from django.apps import apps
    set_up_by_loader = apps.ready
    django.setup()  # (done already when the fix-up is on)
    call_command("migrate", verbosity=0)
    seen = {}

    @app.task(name="fixupproj.count_types")
    def count_types():
        from django.contrib.contenttypes.models import ContentType

        seen["connection"] = connections["default"]  # this worker thread's connection to the database
        return ContentType.objects.count()

    worker = app.Worker(pool="solo", concurrency=1)
    thread = threading.Thread(target=worker.start)
    thread.start()
    value = count_types.delay().get(timeout=30)
    worker.stop()  # warm: returns once the task, its task_postrun included, has finished
    thread.join(30)
    from taskora.compat.contrib.django.task import DjangoTask
    # the worker sends the stdout of its process to the log (worker_redirect_stdouts): the answer goes to a file
    with open(sys.argv[2], "w") as answer:
        json.dump({"value": value, "stopped": not thread.is_alive(), "set_up_by_loader": set_up_by_loader,
                   "open_after_task": seen["connection"].connection is not None,
                   "django_task": issubclass(app.Task, DjangoTask)}, answer)
    app.close()
"""


def run_project(tmp_path: Path, redis_url: str, **app_options: object) -> dict:
    (tmp_path / "fixup_settings.py").write_text(
        textwrap.dedent(SETTINGS.format(db=str(tmp_path / "db.sqlite3"), url=redis_url)))
    answer = tmp_path / "answer.json"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT), json.dumps(app_options), str(answer)],
                          cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(answer.read_text())


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def test_the_fixup_closes_the_tasks_database_connection_after_the_task(tmp_path: Path, redis_url: str) -> None:
    out = run_project(tmp_path, redis_url)
    assert out["value"] > 0 and out["stopped"]
    assert out["django_task"] and out["set_up_by_loader"]
    assert out["open_after_task"] is False


def test_without_the_fixup_the_connection_stays_open_after_the_task(tmp_path: Path, redis_url: str) -> None:
    """The same project with ``fixups=[]``: what the fix-up prevents (a connection per worker thread kept open
    until the server drops it) really happens."""
    out = run_project(tmp_path, redis_url, fixups=[])
    assert out["value"] > 0 and out["stopped"]
    assert out["django_task"] is False and out["set_up_by_loader"] is False
    assert out["open_after_task"] is True


PROJECT = """
    import json, os

    from django.db import connections
    from taskora.compat import Celery, signals

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fixup_settings")
    app = Celery("proj")
    app.config_from_object("django.conf:settings", namespace="CELERY")


    @app.task(name="proj.count_types")
    def count_types():
        from django.contrib.contenttypes.models import ContentType

        count = ContentType.objects.count()
        return {"count": count, "open_in_task": connections["default"].connection is not None}


    def record_after_postrun(sender=None, task_id=None, **kwargs):
        # connected after the fix-up's receiver (see below), so it sees what the fix-up left
        path = os.path.join(os.environ["ANSWER_DIR"], f"{task_id}.json")
        with open(path, "w") as answer:
            json.dump({"open_after_task": connections["default"].connection is not None, "pid": os.getpid()}, answer)


    @signals.worker_init.connect
    def connect_recorder(sender=None, **kwargs):  # connected after the app (and its fix-up) was made: runs second
        signals.task_postrun.connect(record_after_postrun, weak=False)
"""


def test_a_prefork_taskora_worker_closes_the_connection_after_each_task(tmp_path: Path, redis_url: str) -> None:
    """``taskora worker -A proj -P prefork``: the fix-up installed at the worker's start works in the forked child
    that runs the task."""
    from taskora.compat import Celery

    from .projects.harness import project_env, worker

    (tmp_path / "fixup_settings.py").write_text(
        textwrap.dedent(SETTINGS.format(db=str(tmp_path / "db.sqlite3"), url=redis_url)))
    (tmp_path / "proj.py").write_text(textwrap.dedent(PROJECT))
    env = project_env(redis_url, ANSWER_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="fixup_settings",
                      PYTHONPATH=str(tmp_path))
    migrate = "import django; django.setup(); from django.core.management import call_command; call_command('migrate')"
    done = subprocess.run([sys.executable, "-c", migrate], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    client = Celery("client", broker=redis_url, backend=redis_url, fixups=[])
    try:
        with worker(tmp_path, env, "-P", "prefork", "-c", "1") as process:
            result = client.send_task("proj.count_types")
            value = result.get(timeout=30)
            answer = tmp_path / f"{result.id}.json"
            wait_until(answer.exists, what=f"the task_postrun record (worker log: {process.log})")
            worker_pid = process.proc.pid
    finally:
        client.close()
    assert value["count"] > 0 and value["open_in_task"] is True
    recorded = json.loads(answer.read_text())
    assert recorded["open_after_task"] is False and recorded["pid"] != worker_pid  # in the forked child
