"""``taskora worker`` as Celery deployments start it: waiting for Redis, Celery's daemon and tuning options."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from taskora import Taskora
from taskora.worker.control import broadcast

from ..redis_server import RedisServer, free_port, quiet_port
from .helpers import PROJ, ROOT, WorkerProcess, client_app, env_for, run_cli, wait_until


def test_worker_started_before_redis_retries_then_runs_jobs(tmp_path: Path) -> None:
    # Given a worker started while nothing listens on its Redis port
    port = quiet_port()  # told to the worker long before the server takes it
    url = f"redis://127.0.0.1:{port}/0"
    worker = WorkerProcess(url, tmp_path, "-P", "threads", "-c", "1")
    server = RedisServer(port=port)
    try:
        wait_until(lambda: "Cannot connect to" in worker.log(), what="the first failed connection to be logged")
        assert worker.proc.poll() is None
        assert f"Cannot connect to {url}: " in worker.log()
        assert "Trying again in 2.00 seconds... (1/100)" in worker.log()
        # When Redis comes up on that port
        server.start()
        # Then the worker connects and a job completes
        app = client_app(url)
        try:
            assert app.dispatch("add", {"a": 2, "b": 3}).result(timeout=20) == 5
        finally:
            app.close()
    finally:
        worker.stop()
        server.stop()


def test_retries_exhausted_exit_3_with_the_password_masked(tmp_path: Path) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0?password=hunter2"
    out = run_cli(url, tmp_path, "worker", "-A", PROJ, "-P", "solo", "--connect-retries", "1", "-l", "info")
    assert out.returncode == 3, out.stderr
    assert "hunter2" not in out.stderr
    assert "Trying again in 2.00 seconds... (1/1)" in out.stderr
    assert "redis://:****@127.0.0.1" in out.stderr and "password=****" in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("Error: cannot reach the broker")
    assert "gave up after 1 retries" in out.stderr


def test_celery_options_from_a_compose_file_are_accepted(client: Taskora, redis_url: str, tmp_path: Path,
                                                         start_worker) -> None:  # fmt: skip
    worker = start_worker("-P", "processes", "--autoscale", "1,3", "-B", "-s", str(tmp_path / "celerybeat-schedule"),
                          "-E", "-O", "fair", "--without-gossip", "--without-mingle", "--without-heartbeat",
                          "--prefetch-multiplier", "4", "-S", str(tmp_path / "statedb"), "--scheduler", "x:Y")
    stats = broadcast(client, "stats", timeout=5, destination=[worker.hostname])[worker.hostname]
    assert stats["concurrency"] == 1  # --autoscale (either order) starts at MIN (tests/cli/test_live_worker_ops.py)
    assert stats["autoscaler"]["max"] == 3
    assert stats["pool"] == "prefork"  # Celery's alias
    assert client.dispatch("add", {"a": 1, "b": 1}).result(timeout=15) == 2
    log = worker.log()
    for given in ("-E", "-O fair", "--without-gossip", "--statedb", "-s ", "--scheduler x"):
        assert any(given in line and "accepted and ignored" in line for line in log.splitlines()), given


def test_pidfile_held_by_a_live_worker_refuses_a_second(redis_url: str, tmp_path: Path, start_worker) -> None:
    pidfile = tmp_path / "w.pid"
    first = start_worker("-P", "solo", "--pidfile", str(pidfile))
    second = run_cli(redis_url, tmp_path, "worker", "-A", PROJ, "-P", "solo", "--pidfile", str(pidfile))
    assert second.returncode == 73, second.stderr
    assert f"Pidfile ({pidfile}) already exists" in second.stderr and f"pid: {first.proc.pid}" in second.stderr
    assert int(pidfile.read_text()) == first.proc.pid
    pidfile.write_text("999999999\n")  # a stale pidfile (no such process) is replaced
    first.stop()
    third = start_worker("-P", "solo", "--pidfile", str(pidfile))
    assert int(pidfile.read_text()) == third.proc.pid


def test_detach_writes_pid_and_log_and_stops_on_sigterm(client: Taskora, redis_url: str, tmp_path: Path) -> None:
    pidfile, logfile = tmp_path / "%n.pid", tmp_path / "%n.log"
    out = run_cli(redis_url, tmp_path, "worker", "-A", PROJ, "-P", "threads", "-c", "1", "-n", "daemon@test",
                  "-D", "--pidfile", str(pidfile), "-f", str(logfile), "-l", "info", "--umask", "077")
    assert out.returncode == 0, out.stderr
    pidfile, logfile = tmp_path / "daemon.pid", tmp_path / "daemon.log"  # %n: the node name's name part
    pid = int(wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the daemon's pidfile"))
    try:
        assert client.dispatch("add", {"a": 4, "b": 4}).result(timeout=15) == 8
        wait_until(lambda: "daemon@test ready." in logfile.read_text(), what="the log in --logfile")
        assert logfile.stat().st_mode & 0o777 == 0o600  # created under --umask 077
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pidfile.exists(), what="the daemon to stop and remove its pidfile")


def test_gid_drop_through_the_worker_and_uid_drop_in_a_process(client: Taskora, start_worker) -> None:
    if os.getuid() != 0:
        pytest.skip("dropping privileges needs root")
    # The worker itself: this machine's Python lives under /root, which `nobody` cannot read, so the worker
    # keeps uid 0 here and switches its group; the user switch is checked in a process of its own below.
    start_worker("-P", "threads", "-c", "1", "--gid", "nogroup")
    assert client.dispatch("ids", None).result(timeout=15) == [0, 65534]
    code = ("from taskora.cli._privileges import drop_privileges; import os; drop_privileges('nobody', None); "
            "print(os.getuid(), os.getgid(), os.getgroups())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert out.stdout.strip() == "65534 65534 [65534]", out.stderr


def test_unknown_user_is_a_clear_error(redis_url: str, tmp_path: Path) -> None:
    out = run_cli(redis_url, tmp_path, "worker", "-A", PROJ, "--uid", "no-such-user-xyz")
    assert out.returncode == 1 and "--uid no-such-user-xyz: no such user" in out.stderr


def test_beat_accepts_celery_options(redis_url: str, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "taskora", "beat", "-A", PROJ, "-s", str(tmp_path / "sched"),
                             "-S", "x:Y", "--pidfile", str(tmp_path / "beat.pid"), "-f", str(tmp_path / "beat.log"),
                             "-l", "info"], cwd=ROOT, env=env_for(redis_url, tmp_path), stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        wait_until(lambda: (tmp_path / "beat.pid").exists() or proc.poll() is not None, what="beat to start")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        wait_until(lambda: "beat: Starting..." in (tmp_path / "beat.log").read_text(), what="beat to be running")
        assert "-s " in (tmp_path / "beat.log").read_text()  # the ignored option is named in the log
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        if proc.stderr:
            proc.stderr.close()
    assert code == 0
    assert not (tmp_path / "beat.pid").exists()


def test_purge_at_start_and_include_modules(client: Taskora, start_worker) -> None:
    stale = [client.dispatch("noop", None) for _ in range(3)]
    worker = start_worker("-P", "threads", "-c", "1", "--purge", "-I", "tests.cli.proj_extra")
    assert [h.state() for h in stale] == [None, None, None]  # deleted before the worker took any
    assert "purge: Erased 3 jobs from the queue." in worker.log()
    registered = broadcast(client, "registered", timeout=5, destination=[worker.hostname])[worker.hostname]
    assert "extra" in registered
    client.register_task("extra", None)
    assert client.dispatch("extra", None).result(timeout=15) == "extra-ran"
