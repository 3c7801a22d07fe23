"""A job sent under a task name no live worker knows (``send_task`` of a renamed or never-imported task) ends as
Celery's does: ``FAILURE`` with ``NotRegistered(name)``, and the worker consuming its queue sends ``task_unknown``
with Celery's arguments. A name another live worker knows is left to it, even while that worker is too busy to
answer control requests."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from taskora.compat.exceptions import NotRegistered

from ..waiting import wait_until
from .celery_helpers import CeleryWorker, import_project

PROJECT = '''
import json
import os

from taskora.compat import Celery
from taskora.compat.signals import task_unknown
from taskora.compat.worker.control import control_command

app = Celery("unkproj", broker=os.environ["REDIS_URL"])


@app.task
def known():
    return "known"


if os.environ.get("UNKPROJ_EXTRA"):  # a worker of a newer deploy that has the task
    @app.task(name="unkproj.newer")
    def newer():
        import time

        time.sleep(2)  # its jobs wait behind each other past the other worker's look for unknown names
        return "newer"


@control_command(args=[("seconds", float)])
def busy(state, seconds):
    """A slow custom control command: the worker's replies to every other request wait behind it."""
    import time

    time.sleep(seconds)
    return {"ok": "done"}


@task_unknown.connect
def seen(sender=None, message=None, exc=None, name=None, id=None, **kwargs):
    path = os.path.join(os.environ["UNKPROJ_DIR"], "unknown-" + id)
    with open(path + ".tmp", "w") as out:  # renamed when complete: the test waits for the file to exist
        json.dump({"name": name, "exc": [type(exc).__name__, *exc.args], "message": message}, out)
    os.replace(path + ".tmp", path)
'''


@pytest.fixture
def unkproj(tmp_path, redis_url, monkeypatch):
    monkeypatch.setenv("UNKPROJ_DIR", str(tmp_path))
    module = import_project(tmp_path, "unkproj", PROJECT, redis_url, monkeypatch)
    worker = CeleryWorker(tmp_path, "unkproj", redis_url, f"unk{uuid.uuid4().hex[:6]}@test", "-P", "threads")
    try:
        worker.wait_ready(module.app)
        yield module, tmp_path, worker
    finally:
        worker.stop()
        module.app.close()
        sys.modules.pop("unkproj", None)


def test_a_job_of_an_unknown_task_fails_not_registered_and_sends_task_unknown(unkproj):
    module, tmp_path, worker = unkproj
    result = module.app.send_task("unkproj.renamed", args=(1,))
    with pytest.raises(NotRegistered, match="unkproj.renamed"):
        result.get(timeout=20)
    assert result.state == "FAILURE"
    marker = tmp_path / f"unknown-{result.id}"
    wait_until(marker.exists, what="task_unknown in the worker")
    assert json.loads(marker.read_text()) == {"name": "unkproj.renamed", "exc": ["NotRegistered", "unkproj.renamed"],
                                              "message": None}
    assert "Received unregistered task of type 'unkproj.renamed'" in worker.log()
    assert module.known.delay().get(timeout=20) == "known"


@contextmanager
def newer_worker(unkproj, redis_url, monkeypatch) -> Iterator[CeleryWorker]:
    """A second worker, of a newer deploy: it also has ``unkproj.newer``, which the first worker lacks."""
    module, tmp_path, _ = unkproj
    monkeypatch.setenv("UNKPROJ_EXTRA", "1")
    newer = CeleryWorker(tmp_path, "unkproj", redis_url, f"newer{uuid.uuid4().hex[:6]}@test", "-P", "threads",
                         "-c", "1")
    try:
        newer.wait_ready(module.app)
        yield newer
    finally:
        newer.stop()


def test_a_task_another_live_worker_knows_is_left_to_it(unkproj, redis_url, monkeypatch):
    module, tmp_path, worker = unkproj
    with newer_worker(unkproj, redis_url, monkeypatch):
        results = [module.app.send_task("unkproj.newer") for _ in range(4)]
        assert [r.get(timeout=30) for r in results] == ["newer"] * 4
        assert not list(tmp_path.glob("unknown-*"))


def test_a_task_of_a_worker_too_busy_to_answer_control_is_left_to_it(unkproj, redis_url, monkeypatch):
    module, tmp_path, worker = unkproj
    with newer_worker(unkproj, redis_url, monkeypatch) as newer:
        # Control requests are answered one at a time: behind this one, newer answers nothing for 15 s, while its
        # four jobs (2 s each, one at a time) wait through at least one of the other worker's looks (every 5 s).
        module.app.control.broadcast("busy", arguments={"seconds": 15}, destination=[newer.hostname])
        assert not module.app.control.inspect(destination=[newer.hostname], timeout=1.0).registered()
        results = [module.app.send_task("unkproj.newer") for _ in range(4)]
        assert [r.get(timeout=40) for r in results] == ["newer"] * 4
        assert not list(tmp_path.glob("unknown-*"))
        assert "Received unregistered task" not in worker.log()
