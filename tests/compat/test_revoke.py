"""Revoke and expiry as Celery's, seen from another process: real ``taskora worker -A rvproj`` workers.

``revoke(id, terminate=True)`` ends a running task REVOKED at once (prefork: its child dies by the signal
and is replaced; threads: ``Terminated`` is raised inside the handler) and the worker sends
``task_revoked(terminated=True, signum=...)``; a task whose ``expires`` passed before it started is
REVOKED and never runs (``task_revoked(expired=True)``); ``revoke(id)`` of a waiting task: it never runs.
The project's ``task_revoked`` receiver appends one JSON line per signal to a file the test reads.
"""

from __future__ import annotations

import json
import sys
import time
import uuid

import pytest

from .celery_helpers import CeleryWorker, import_project, wait_until

PROJECT = '''
import json
import os
import time

from taskora.compat import Celery
from taskora.compat.signals import task_revoked

app = Celery("rvproj", broker=os.environ["REDIS_URL"])
SIGNALS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "revoked.jsonl")


@task_revoked.connect
def record(sender=None, request=None, terminated=None, signum=None, expired=None, **kw):
    with open(SIGNALS, "a") as out:
        out.write(json.dumps({"task": sender.name, "id": request.id, "args": request.args, "terminated": terminated,
                              "signum": signum, "expired": expired, "pid": os.getpid()}) + "\\n")


@app.task(track_started=True)
def long(marker):
    """Runs 30 s unless stopped; ``<marker>.started`` says it runs, the marker how it ended."""
    with open(marker + ".started", "w") as out:
        out.write("started")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.02)
        outcome = "finished"
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        with open(marker, "w") as out:
            out.write(outcome)
    return outcome


@app.task
def hold(path, ran=None):
    if ran:
        with open(ran, "w") as out:
            out.write("ran")
    while not os.path.exists(path):
        time.sleep(0.02)
    return "released"


@app.task
def touch(path):
    with open(path, "w") as out:
        out.write("ran")
    return "ran"
'''


@pytest.fixture
def rvproj(tmp_path, redis_url, monkeypatch):
    module = import_project(tmp_path, "rvproj", PROJECT, redis_url, monkeypatch)
    workers: list[CeleryWorker] = []

    def start(*args: str) -> CeleryWorker:
        worker = CeleryWorker(tmp_path, "rvproj", redis_url, f"rv{uuid.uuid4().hex[:6]}@test", *args)
        workers.append(worker)
        return worker.wait_ready(module.app)

    yield module, start, tmp_path
    for worker in workers:
        worker.stop()
    module.app.close()
    sys.modules.pop("rvproj", None)


def _signals(tmp_path) -> list[dict]:
    """The signals recorded so far (a line still being written is not one yet)."""
    path = tmp_path / "revoked.jsonl"
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def _revoked_within_one_second(result) -> float:
    began = time.monotonic()
    wait_until(lambda: result.state == "REVOKED", 1.0, f"{result.id} to be REVOKED")
    return time.monotonic() - began


def _wait_running(result, marker) -> None:
    """Until the handler runs (STARTED alone means claimed: a revoke then means it never starts)."""
    started = marker.with_name(marker.name + ".started")
    wait_until(started.exists, 15, "the long task to start")
    assert result.state == "STARTED"


def _children(app, hostname: str) -> list[int]:
    stats = app.control.inspect(destination=[hostname], timeout=2).stats() or {}
    return sorted(child["pid"] for child in stats.get(hostname, {}).get("children", []))


def test_terminate_kills_a_prefork_child_which_is_replaced(rvproj):
    proj, start, tmp_path = rvproj
    worker = start("-P", "prefork", "-c", "1")
    marker = tmp_path / "long.marker"
    running = proj.long.delay(str(marker))
    _wait_running(running, marker)
    before = _children(proj.app, worker.hostname)
    running.revoke(terminate=True)  # Celery's default signal: SIGTERM
    _revoked_within_one_second(running)
    wait_until(lambda: _signals(tmp_path), 5, "task_revoked")
    (sent,) = _signals(tmp_path)
    assert sent["id"] == running.id and sent["terminated"] is True and sent["signum"] == 15
    assert sent["expired"] is False and sent["args"] == [str(marker)]
    # the child is replaced (a job sent before it died could be claimed by its idle slot's wait, in flight as
    # it died, and would then wait for stall recovery: the supervisor does not track idle waits' claims)
    after = wait_until(lambda: (pids := _children(proj.app, worker.hostname)) and set(pids).isdisjoint(before)
                       and pids, 15, "a new child")
    assert len(after) == 1
    assert proj.touch.delay(str(tmp_path / "after")).get(timeout=20) == "ran"  # the new child serves on
    assert not marker.exists()  # the child died by the signal: the handler never got to its finally
    assert running.state == "REVOKED"


def test_terminate_with_a_signal_name(rvproj):
    proj, start, tmp_path = rvproj
    start("-P", "prefork", "-c", "1")
    marker = tmp_path / "long.marker"
    running = proj.long.delay(str(marker))
    _wait_running(running, marker)
    proj.app.control.revoke(running.id, terminate=True, signal="KILL")
    _revoked_within_one_second(running)
    wait_until(lambda: _signals(tmp_path), 5, "task_revoked")
    assert _signals(tmp_path)[0]["signum"] == 9
    with pytest.raises(ValueError, match="unknown signal"):
        proj.app.control.revoke(running.id, terminate=True, signal="SIGNOPE")


def test_terminate_interrupts_a_handler_in_the_threads_pool(rvproj):
    proj, start, tmp_path = rvproj
    start("-P", "threads", "-c", "1")
    marker = tmp_path / "long.marker"
    running = proj.long.delay(str(marker))
    _wait_running(running, marker)
    running.revoke(terminate=True)
    _revoked_within_one_second(running)
    outcome = wait_until(lambda: marker.exists() and marker.read_text(), 5, "the handler to be interrupted")
    assert outcome == "Terminated"
    assert _signals(tmp_path)[0]["terminated"] is True
    assert proj.touch.delay(str(tmp_path / "after")).get(timeout=20) == "ran"  # the slot serves on
    assert running.state == "REVOKED"


def test_a_task_expiring_before_it_starts_is_revoked_and_never_runs(rvproj):
    proj, start, tmp_path = rvproj
    start("-P", "threads", "-c", "1")
    gate = tmp_path / "gate"
    busy = proj.hold.delay(str(gate))  # keeps hold's only slot busy
    wait_until(lambda: proj.app.control.inspect(timeout=0.5).active(), 15, "the slot to be busy")
    ran = tmp_path / "ran"
    sent_at = time.monotonic()
    late = proj.hold.apply_async((str(gate), str(ran)), expires=0.3)
    assert late.state == "PENDING"
    wait_until(lambda: late.state == "REVOKED", 2.0, "the expired task to be REVOKED")
    assert time.monotonic() - sent_at < 0.3 + 1.0
    gate.write_text("open")
    assert busy.get(timeout=20) == "released"
    wait_until(lambda: _signals(tmp_path), 5, "task_revoked for the expired task")
    (sent,) = _signals(tmp_path)
    assert sent["id"] == late.id and sent["expired"] is True and sent["terminated"] is False
    assert proj.hold.delay(str(gate)).get(timeout=20) == "released"
    assert not ran.exists() and late.state == "REVOKED"


def test_revoking_a_waiting_task_means_it_never_runs(rvproj):
    proj, start, tmp_path = rvproj
    ran = tmp_path / "ran"
    waiting = proj.touch.delay(str(ran))
    waiting.revoke()
    assert waiting.state == "REVOKED"
    start("-P", "threads", "-c", "1")
    assert proj.touch.delay(str(tmp_path / "after")).get(timeout=20) == "ran"
    assert not ran.exists() and waiting.state == "REVOKED"
    later = proj.touch.apply_async((str(ran),), countdown=60)  # revoked while a worker runs: it sends task_revoked
    later.revoke()
    assert later.state == "REVOKED"
    wait_until(lambda: _signals(tmp_path), 5, "task_revoked for the revoked task")
    (sent,) = _signals(tmp_path)
    assert sent["id"] == later.id and sent["terminated"] is False and sent["expired"] is False
