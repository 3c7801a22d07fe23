"""Queues as Celery's: real ``taskora worker -A qproj [-Q ...]`` processes each consume only their queues.

Three workers share one Redis: one for ``reports``, one for ``priority`` (prefork, one child), one
started without ``-Q`` (Celery's default: ``task_default_queue`` and the declared ``task_queues``).
Every task returns the hostname of the worker that ran it, so the test sees who consumed what.
"""

from __future__ import annotations

import sys
import uuid

import pytest
from taskora.compat import Celery
from taskora.compat.exceptions import TimeLimitExceeded

from .celery_helpers import CeleryWorker, import_project

PROJECT = '''
import os
import re
import time

from taskora.compat import Celery

app = Celery("qproj", broker=os.environ["REDIS_URL"])
app.conf.task_default_queue = "default"
app.conf.task_queues = {"default": {}, "mail": {}}


def by_argument(name, args, kwargs, options, task=None, **kw):
    """A router function: a call whose first argument is "vip" goes to priority."""
    if args and args[0] == "vip":
        return {"queue": "priority"}
    return None


app.conf.task_routes = [
    by_argument,
    {"qproj.report_*": {"queue": "reports"}, re.compile(r"qproj\\.urgent.*"): "priority"},
]


@app.task(bind=True)
def report_build(self, what=None):
    return self.request.hostname


@app.task(bind=True)
def urgent_page(self, what=None):
    return self.request.hostname


@app.task(bind=True)
def plain(self, what=None):
    return self.request.hostname


@app.task(bind=True, queue="mail")
def send_mail(self, what=None):
    return self.request.hostname


@app.task(time_limit=0.5)
def hang(seconds):
    time.sleep(seconds)
    return "finished"
'''


@pytest.fixture
def qproj(tmp_path, redis_url, monkeypatch):
    """The workers, and the project imported here too (its calls route with the project's own settings)."""
    client = import_project(tmp_path, "qproj", PROJECT, redis_url, monkeypatch).app
    tag = uuid.uuid4().hex[:6]
    workers = {
        "reports": CeleryWorker(tmp_path, "qproj", redis_url, f"reports{tag}@test", "-P", "threads", "-Q", "reports"),
        "priority": CeleryWorker(tmp_path, "qproj", redis_url, f"priority{tag}@test", "-P", "prefork", "-c", "1",
                                 "-Q", "priority"),
        "default": CeleryWorker(tmp_path, "qproj", redis_url, f"default{tag}@test", "-P", "threads"),
    }
    try:
        for worker in workers.values():
            worker.wait_ready(client)
        yield client, {queue: worker.hostname for queue, worker in workers.items()}
    finally:
        for worker in workers.values():
            worker.stop()
        client.close()
        sys.modules.pop("qproj", None)


def _ran_on(client: Celery, name: str, *args, **options) -> str:
    return client.send_task(f"qproj.{name}", args, **options).get(timeout=20)


def test_each_worker_consumes_only_its_queues(qproj):
    client, host = qproj
    from qproj import plain, report_build, urgent_page  # the project, as its own code calls it

    assert report_build.delay().get(timeout=20) == host["reports"]  # glob key of task_routes
    assert urgent_page.delay().get(timeout=20) == host["priority"]  # regex key
    assert plain.delay("vip").get(timeout=20) == host["priority"]  # router function, per call
    assert plain.delay("normal").get(timeout=20) == host["default"]  # no route: task_default_queue
    assert _ran_on(client, "send_mail") == host["default"]  # a declared task_queues queue: the -Q-less worker
    # a single call routed elsewhere: only that message moves
    assert plain.apply_async(queue="reports").get(timeout=20) == host["reports"]
    assert report_build.apply_async(queue="default").get(timeout=20) == host["default"]
    assert plain.delay().get(timeout=20) == host["default"]


def test_no_worker_runs_a_queue_it_does_not_consume(qproj):
    client, host = qproj
    from qproj import report_build

    several = [report_build.delay() for _ in range(6)] + [client.send_task("qproj.plain", queue="priority")
                                                           for _ in range(4)]
    hosts = [result.get(timeout=20) for result in several]
    assert hosts == [host["reports"]] * 6 + [host["priority"]] * 4
    orphan = client.send_task("qproj.plain", queue="nobody-consumes-this")
    assert _ran_on(client, "plain") == host["default"]  # the default worker is idle and still does not take it
    assert orphan.state == "PENDING"


def test_a_q_worker_keeps_serving_after_a_hard_time_limit_kills_its_child(qproj):
    client, host = qproj
    from qproj import hang

    killed = hang.apply_async((30,), queue="priority")
    with pytest.raises(TimeLimitExceeded):
        killed.get(timeout=20)
    assert _ran_on(client, "urgent_page") == host["priority"]
    assert hang.apply_async((0,), queue="priority").get(timeout=20) == "finished"
