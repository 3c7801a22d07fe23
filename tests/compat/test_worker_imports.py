"""``taskora worker -A proj`` on a Celery project whose tasks live only in ``include=`` modules and
``autodiscover_tasks()`` packages: the worker imports them before it chooses what to run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from taskora.compat import Celery

from .celery_helpers import CeleryWorker

APP = """
    import os
    from taskora.compat import Celery

    app = Celery("incproj", broker=os.environ["REDIS_URL"], include=["incproj.tasks"])
    app.conf.task_default_queue = "work"
    app.autodiscover_tasks(["incproj.billing"])
"""
TASKS = """
    from incproj.celery import app

    @app.task(name="incproj.tasks.add")
    def add(x, y):
        return x + y
"""
BILLING = """
    from taskora.compat import shared_task

    @shared_task(name="incproj.billing.tasks.charge")
    def charge(amount):
        return f"charged {amount}"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    files = {"incproj/__init__.py": "", "incproj/celery.py": APP, "incproj/tasks.py": TASKS,
             "incproj/billing/__init__.py": "", "incproj/billing/tasks.py": BILLING}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def test_the_worker_runs_tasks_of_included_and_autodiscovered_modules(project: Path, redis_url: str) -> None:
    client = Celery("client", broker=redis_url)
    worker = CeleryWorker(project, "incproj.celery", redis_url, "inc@test", "-P", "threads", "-c", "2", "-Q", "work")
    try:
        worker.wait_ready(client)
        assert client.send_task("incproj.tasks.add", (2, 3), queue="work").get(timeout=20) == 5
        charged = client.send_task("incproj.billing.tasks.charge", (7,), queue="work").get(timeout=20)
        assert charged == "charged 7"
        assert "incproj.tasks.add" in worker.log() and "incproj.billing.tasks.charge" in worker.log()
    finally:
        worker.stop()
