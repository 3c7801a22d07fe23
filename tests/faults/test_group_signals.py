"""Service managers signal the whole process group (systemd's default ``KillMode=control-group``,
``kill -TERM -<pgid>``): a prefork child then gets SIGTERM from them *and* from its supervisor, and
that must still be one warm shutdown. A second SIGTERM, or SIGQUIT, is a cold one."""

from __future__ import annotations

import os
import signal

from taskora import Taskora

from ..waiting import wait_until


def _start_slow_job(client: Taskora, start_worker, runs, seconds: float):  # type: ignore[no-untyped-def]
    worker = start_worker("-P", "prefork", "-c", "1")
    handle = client.dispatch("poison", {"how": "slow", "seconds": seconds})
    wait_until(lambda: runs(handle.id), what="the slow job to start")
    return worker, handle


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(p) for p in listing.read().split()]


def test_sigterm_to_the_process_group_is_a_warm_shutdown(client: Taskora, start_worker, runs) -> None:
    # Given a prefork worker running a job that takes 2 s
    worker, handle = _start_slow_job(client, start_worker, runs, 2.0)
    # When SIGTERM reaches every process of the group, the children included, and the supervisor's own
    # forward reaches the child after it already took the first (two near signals may merge into one)
    os.killpg(worker.proc.pid, signal.SIGTERM)
    wait_until(lambda: "child 0" in worker.log() and "warm shutdown requested" in worker.log(),
               what="the child's warm shutdown")
    for child in _children(worker.proc.pid):
        os.kill(child, signal.SIGTERM)
    # Then the running job finishes, once, and the worker exits cleanly
    assert handle.result(timeout=20) == "survived"
    assert worker.proc.wait(timeout=20) == 0
    assert len(runs(handle.id)) == 1
    assert "cold shutdown requested" not in worker.log()


def test_a_second_sigterm_to_the_group_is_a_cold_shutdown(client: Taskora, start_worker, runs) -> None:
    # Given a prefork worker running a job that would take 60 s, told to stop warm; the supervisor is held back
    # (SIGSTOP) until its child took the signal, as a loaded machine may leave it unscheduled
    worker, handle = _start_slow_job(client, start_worker, runs, 60.0)
    os.kill(worker.proc.pid, signal.SIGSTOP)
    os.killpg(worker.proc.pid, signal.SIGTERM)
    wait_until(lambda: "child 0" in worker.log() and "warm shutdown requested" in worker.log(),
               what="the child's warm shutdown")
    os.kill(worker.proc.pid, signal.SIGCONT)
    # A second SIGTERM counts only once the supervisor handled the first: two pending ones are one signal
    # (the kernel, and Python's handler, merge them), so waiting for the child's line alone made this a warm stop
    wait_until(lambda: f"{worker.hostname}: warm shutdown requested" in worker.log(), what="the supervisor's")
    # When SIGTERM reaches the group again
    os.killpg(worker.proc.pid, signal.SIGTERM)
    # Then the stop is cold: the worker exits soon and the job goes back to the queue, not lost
    worker.proc.wait(timeout=30)
    wait_until(lambda: handle.state() == "waiting", what="the job to be handed back")
    assert len(runs(handle.id)) == 1
