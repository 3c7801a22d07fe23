"""A Celery project (compat) for ``python -m taskora beat -A tests.beat_celery_app``: a 1-second
``beat_schedule`` entry and one added by ``add_periodic_task`` in an ``on_after_configure`` handler,
written exactly as for Celery (nothing taskora-specific: the app installs its beat schedule itself)."""

from __future__ import annotations

import os

from taskora.compat import Celery

app = Celery("beatproj", broker=os.environ.get("TASKORA_TEST_REDIS", "redis://127.0.0.1:6379/0"))
app.conf.beat_schedule = {"add-every-second": {"task": "beatproj.add", "schedule": 1.0, "args": (2, 3)}}


@app.task(name="beatproj.add")
def add(x: int, y: int) -> int:
    return x + y


@app.on_after_configure.connect
def setup_periodic_tasks(sender: Celery, **_: object) -> None:
    sender.add_periodic_task(3600.0, add.s(10, 20), name="add-hourly")

