"""``taskora control``, ``shell``, ``report`` and ``events`` on a native app, as subprocesses against redis-server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from taskora import Taskora

from .helpers import PROJ, ROOT, env_for, run_cli, wait_until


def test_control_revoke_cancels_waiting_jobs_and_names_unknown_ones(client: Taskora, redis_url: str,
                                                                     tmp_path: Path) -> None:  # fmt: skip
    handles = [client.dispatch("add", {"a": 1, "b": i}) for i in range(2)]
    out = run_cli(redis_url, tmp_path, "-A", PROJ, "control", "revoke", handles[0].id, handles[1].id, "nope")
    assert out.returncode == 0, out.stderr
    assert f"tasks flagged as revoked: {handles[0].id}, {handles[1].id}" in out.stdout
    assert "nope: unknown" in out.stdout
    assert [h.state() for h in handles] == ["cancelled", "cancelled"]


def test_control_terminate_stops_a_running_job(client: Taskora, redis_url: str, tmp_path: Path,
                                               start_worker) -> None:  # fmt: skip
    start_worker("-P", "threads", "-c", "1", "-Q", "slow")
    running = client.dispatch("slow", {"tag": "term", "seconds": 2})  # a thread is not killed: it ends cancelled
    wait_until(lambda: (tmp_path / "started-term").exists(), what="the job to start")
    out = run_cli(redis_url, tmp_path, "-A", PROJ, "--json", "control", "terminate", "SIGKILL", running.id)
    assert json.loads(out.stdout) == {"taskora@store": {running.id: "flagged"}}
    wait_until(lambda: running.state() == "cancelled", timeout=20, what="the worker to end the job cancelled")


def test_control_shutdown_stops_the_named_worker_warm(client: Taskora, redis_url: str, tmp_path: Path,
                                                     start_worker) -> None:  # fmt: skip
    # Given two workers, one of them (prefork) running a 1.5 s job
    target = start_worker("-P", "prefork", "-c", "1", "-Q", "slow")
    other = start_worker("-P", "threads", "-c", "1")
    running = client.dispatch("slow", {"tag": "shut", "seconds": 1.5})
    wait_until(lambda: (tmp_path / "started-shut").exists(), what="the job to start")
    # When `control shutdown -d <its name>` is sent
    out = run_cli(redis_url, tmp_path, "-A", PROJ, "control", "shutdown", "-d", target.hostname)
    # Then only that worker answers and stops, after its running job finished (a warm shutdown)
    assert out.returncode == 0 and out.stdout.splitlines() == [f"->  {target.hostname}: OK", "        shutting down"]
    assert target.wait_exit() == 0
    assert running.result(timeout=5) is not None
    assert other.proc.poll() is None and client.dispatch("add", {"a": 1, "b": 2}).result(timeout=15) == 3


def test_control_worker_actions_check_their_arguments(redis_url: str, tmp_path: Path) -> None:
    from taskora.cli.control import WORKER_ACTIONS

    assert WORKER_ACTIONS == {}  # every Celery worker action is supported now (tests/cli/test_live_worker_ops.py)
    for args, said in ((("pool_grow", "x"), "pool_grow takes [N]"), (("add_consumer",), "add_consumer takes QUEUE"),
                       (("autoscale",), "autoscale takes MAX [MIN]"), (("autoscale", "4", "x"), "autoscale takes MAX"),
                       (("time_limit", "t"), "time_limit takes TASK SOFT [HARD]")):
        out = run_cli(redis_url, tmp_path, "-A", PROJ, "control", *args)
        assert out.returncode == 2 and said in out.stderr, out.stderr
    bad = run_cli(redis_url, tmp_path, "-A", PROJ, "control", "revoke")
    assert bad.returncode == 2 and "needs at least one task id" in bad.stderr


def test_control_rate_limit_sets_the_limit_every_worker_reads(client: Taskora, redis_url: str,
                                                               tmp_path: Path) -> None:  # fmt: skip
    out = run_cli(redis_url, tmp_path, "-A", PROJ, "control", "rate_limit", "add", "4/s")
    assert out.returncode == 0 and "add is now 4/s" in out.stdout, out.stderr
    assert client.adapter.rate_limit_interval("add") == 250
    lifted = run_cli(redis_url, tmp_path, "-A", PROJ, "control", "rate_limit", "add", "0")
    assert lifted.returncode == 0 and client.adapter.rate_limit_interval("add") is None
    bad = run_cli(redis_url, tmp_path, "-A", PROJ, "control", "rate_limit", "add", "fast")
    assert bad.returncode != 0 and "rate_limit" in bad.stderr


def test_shell_has_the_app_and_tasks_in_scope(client: Taskora, redis_url: str, tmp_path: Path) -> None:
    script = "print('got', add.name, taskora_app.name, app is taskora_app)\nprint(add.dispatch({'a': 1, 'b': 2}).id)\n"
    out = run_cli(redis_url, tmp_path, "-A", PROJ, "shell", "-q", input=script)
    assert out.returncode == 0, out.stderr
    assert "got add proj_native True" in out.stdout
    job_id = out.stdout.replace(">>> ", "").split()[-1]
    assert client.handle("add", job_id).state() == "waiting"


def test_report_masks_the_broker_password(tmp_path: Path) -> None:
    url = "redis://:hunter2@127.0.0.1:1/0?password=hunter2"
    out = run_cli(url, tmp_path, "-A", PROJ, "report", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert "hunter2" not in out.stdout and report["broker"] == "redis://:****@127.0.0.1:1/0?password=****"
    assert report["app"]["name"] == "proj_native" and report["software"]["taskora"]
    human = run_cli(url, tmp_path, "-A", PROJ, "report")
    assert human.stdout.startswith("software -> taskora:") and "queue: 'default'" in human.stdout


def test_events_prints_each_transition_of_a_job(client: Taskora, redis_url: str, tmp_path: Path,
                                                start_worker) -> None:  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "taskora", "events", "-A", PROJ, "--json", "-n", "3",
                             "--timeout", "30"], cwd=ROOT, env=env_for(redis_url, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        assert proc.stderr is not None and "listening to" in proc.stderr.readline()  # its streams' ends are fixed
        handle = client.dispatch("add", {"a": 5, "b": 6})
        start_worker("-P", "threads", "-c", "1")
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["name"], e["task"], e["id"]) for e in events] == [(n, "add", handle.id)
                                                                 for n in ("waiting", "active", "completed")]
    assert events[-1]["result"] == 11 and proc.returncode == 0


def test_events_human_line_reads_like_celery_dump() -> None:
    from taskora.cli.events import render
    from taskora.events import Event

    line = render(Event(name="completed", task="add", id="j1", result=11, duration=0.25))
    assert line.split(" ", 1)[1] == "task-completed add[j1] duration=0.25 result=11"
