"""Time limits in the prefork pool as Celery's, seen from another process: a real ``taskora worker -P prefork -c 1``.

The soft limit interrupts a handler blocked in one long C call (``time.sleep(60)``, a socket read, ``select``)
at the limit, so the task can catch ``SoftTimeLimitExceeded`` and return its cleanup result (stored as its
SUCCESS value); uncaught, the task fails with it. The hard limit kills the child: the job fails with
``TimeLimitExceeded`` and the next job runs on a fresh child. A revoke with ``terminate=True,
signal="SIGUSR1"`` raises ``SoftTimeLimitExceeded`` in the handler, as in a Celery pool process. Each of these
failed while the handler ran in a thread of the child (the soft limit then landed only as the call returned).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import pytest

from taskora import Taskora
from taskora.worker.control import broadcast

from .celery_helpers import CeleryWorker, import_project, wait_until

PROJECT = '''
import os
import select
import socket
import threading
import time

from taskora.compat import Celery
from taskora.compat.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

app = Celery("slproj", broker=os.environ["REDIS_URL"])


def _cleaned_up(began):
    return {"cleaned_up": True, "after_s": round(time.monotonic() - began, 3)}


@app.task(soft_time_limit=1)
def sleeps():
    began = time.monotonic()
    try:
        time.sleep(60)
    except SoftTimeLimitExceeded:
        return _cleaned_up(began)
    return {"cleaned_up": False}


@app.task(soft_time_limit=1)
def reads():
    """Blocks in recv on a socket nobody writes to."""
    began = time.monotonic()
    ours, theirs = socket.socketpair()
    try:
        ours.recv(1)
    except SoftTimeLimitExceeded:
        return _cleaned_up(began)
    finally:
        ours.close()
        theirs.close()
    return {"cleaned_up": False}


@app.task(soft_time_limit=1)
def selects():
    began = time.monotonic()
    ours, theirs = socket.socketpair()
    try:
        select.select([ours], [], [], 60)
    except SoftTimeLimitExceeded:
        return _cleaned_up(began)
    finally:
        ours.close()
        theirs.close()
    return {"cleaned_up": False}


@app.task(soft_time_limit=1)
def ignores_the_limit():
    time.sleep(60)
    return "slept"


@app.task(soft_time_limit=1, time_limit=2)
def runaway(marker):
    """Cleans up at the soft limit, then blocks again until the hard limit kills its process."""
    try:
        time.sleep(60)
    except SoftTimeLimitExceeded:
        with open(marker, "w") as out:
            out.write("cleaned up")
        time.sleep(60)
    return "slept"


@app.task
def pid():
    return os.getpid()


@app.task
def waits_to_be_stopped(marker):
    began = time.monotonic()
    with open(marker, "w") as out:
        out.write("started")
    try:
        time.sleep(60)
    except SoftTimeLimitExceeded:
        return _cleaned_up(began)
    return {"cleaned_up": False}


@app.task
def spins(marker=None):
    """Short when called without a marker; with one, a loop of short sleeps until it is stopped."""
    if marker is None:
        return threading.current_thread() is threading.main_thread()
    with open(marker, "w") as out:
        out.write("started")
    try:
        while True:
            time.sleep(0.01)
    except SoftTimeLimitExceeded:
        return "stopped"
'''


@pytest.fixture
def slproj(tmp_path, redis_url, monkeypatch):
    module = import_project(tmp_path, "slproj", PROJECT, redis_url, monkeypatch)
    worker = CeleryWorker(tmp_path, "slproj", redis_url, f"sl{uuid.uuid4().hex[:6]}@test", "-P", "prefork", "-c", "1")
    try:
        yield module, worker.wait_ready(module.app), tmp_path
    finally:
        worker.stop()
        module.app.close()
        sys.modules.pop("slproj", None)


def _cleaned_up_at_the_limit(result, timeout: float = 10) -> None:
    began = time.monotonic()
    value = result.get(timeout=timeout)
    assert value["cleaned_up"] is True and 0.9 <= value["after_s"] < 2.0, value
    assert time.monotonic() - began < 4.0
    assert result.state == "SUCCESS"


@pytest.mark.parametrize("task", ["sleeps", "reads", "selects"])
def test_soft_limit_interrupts_a_blocking_call_and_the_cleanup_result_is_stored(slproj, task):
    proj, _worker, _ = slproj
    _cleaned_up_at_the_limit(getattr(proj, task).delay())


def test_uncaught_soft_limit_fails_the_task_with_it(slproj):
    proj, _worker, _ = slproj
    result = proj.ignores_the_limit.delay()
    with pytest.raises(proj.SoftTimeLimitExceeded):
        result.get(timeout=10)
    assert result.state == "FAILURE" and isinstance(result.result, proj.SoftTimeLimitExceeded)


def test_hard_limit_kills_the_child_and_the_next_job_runs_on_a_new_one(slproj):
    proj, _worker, tmp_path = slproj
    marker = tmp_path / "cleaned"
    before = proj.pid.delay().get(timeout=10)
    result = proj.runaway.delay(str(marker))
    with pytest.raises(proj.TimeLimitExceeded):
        result.get(timeout=15)
    assert result.state == "FAILURE" and isinstance(result.result, proj.TimeLimitExceeded)
    assert marker.read_text() == "cleaned up"  # the soft limit came first, inside the blocking sleep
    after = proj.pid.delay().get(timeout=20)
    assert after != before


def test_terminate_with_sigusr1_raises_the_soft_limit_in_the_handler(slproj):
    proj, _worker, tmp_path = slproj
    marker = tmp_path / "started"
    before = proj.pid.delay().get(timeout=10)
    running = proj.waits_to_be_stopped.delay(str(marker))
    wait_until(marker.exists, 15, "the handler to start")
    running.revoke(terminate=True, signal="SIGUSR1")
    wait_until(lambda: running.state == "REVOKED", 2.0, "REVOKED")
    assert proj.pid.delay().get(timeout=10) == before  # the child lived on: the handler caught it and returned


def test_terminate_with_sigusr1_reaches_a_handler_on_its_slot_thread(slproj):
    """A task whose last run was short runs its next job on the child's slot thread (no hand-off to the main
    thread, main_thread.SHORT_RUN_S): a SIGUSR1 terminate still raises SoftTimeLimitExceeded in it, between
    bytecodes, and the child lives on."""
    proj, _worker, tmp_path = slproj
    marker = tmp_path / "spinning"
    before = proj.pid.delay().get(timeout=10)
    assert proj.spins.delay().get(timeout=10) is True  # a task's first run in a child: on its main thread
    wait_until(lambda: proj.spins.delay().get(timeout=10) is False, 10, "a short run on the slot thread")
    running = proj.spins.delay(str(marker))
    wait_until(marker.exists, 15, "the handler to start")
    running.revoke(terminate=True, signal="SIGUSR1")
    wait_until(lambda: running.state == "REVOKED", 2.0, "REVOKED")
    assert proj.pid.delay().get(timeout=10) == before  # the handler caught it and returned: same child


NATIVE_PROJECT = '''
import os
import time

from taskora import Taskora
from taskora.errors import SoftTimeLimitExceeded

app = Taskora(os.environ["REDIS_URL"])


def sleeps(data):
    began = time.monotonic()
    try:
        time.sleep(60)
    except SoftTimeLimitExceeded:
        return round(time.monotonic() - began, 3)
    return -1


app.register_task("sleeps", sleeps, allowed_extra=("soft_time_limit",), soft_time_limit=1)
'''


def test_a_native_app_under_max_running_1_gets_the_same_soft_limit(tmp_path, redis_url):
    (tmp_path / "nativesl.py").write_text(NATIVE_PROJECT)
    client = Taskora(redis_url)
    client.register_task("sleeps", None)
    worker = CeleryWorker(tmp_path, "nativesl", redis_url, f"nsl{uuid.uuid4().hex[:6]}@test", "-P", "prefork",
                          "-c", "1", "--max-running", "1")
    try:
        wait_until(lambda: worker.hostname in broadcast(client, "ping", timeout=0.3, destination=[worker.hostname]),
                   20, "the worker to answer ping")
        assert 0.9 <= client.dispatch("sleeps", None).result(timeout=10) < 2.0
    finally:
        worker.stop()
        client.close()


def test_warm_then_cold_shutdown_with_a_handler_blocked_on_the_main_thread(slproj):
    """Warm: the running job is left to finish; cold: the blocked handler is interrupted (the child does not
    wait for the supervisor's kill), the job goes back to the queue and the worker exits at once."""
    proj, worker, tmp_path = slproj
    marker = tmp_path / "started"
    running = proj.waits_to_be_stopped.delay(str(marker))
    wait_until(marker.exists, 15, "the handler to start")
    worker.proc.send_signal(signal.SIGTERM)
    with pytest.raises(subprocess.TimeoutExpired):
        worker.proc.wait(1.5)  # warm: still finishing the running job
    began = time.monotonic()
    worker.proc.send_signal(signal.SIGQUIT)
    assert worker.proc.wait(8) == 0
    assert time.monotonic() - began < 5  # the supervisor would kill a child still running after 10 s
    assert running.state == "PENDING"  # back in its queue, not charged


def test_max_tasks_per_child_still_replaces_a_child_running_handlers_on_its_main_thread(tmp_path, redis_url,
                                                                                       monkeypatch):  # fmt: skip
    module = import_project(tmp_path, "slproj", PROJECT, redis_url, monkeypatch)
    worker = CeleryWorker(tmp_path, "slproj", redis_url, f"sl{uuid.uuid4().hex[:6]}@test", "-P", "prefork", "-c", "1",
                          "--max-tasks-per-child", "2")
    try:
        worker.wait_ready(module.app)
        pids = [module.pid.delay().get(timeout=15) for _ in range(6)]
        assert len(set(pids)) == 3, pids
    finally:
        worker.stop()
        module.app.close()
        sys.modules.pop("slproj", None)
