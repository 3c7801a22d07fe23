"""``taskora inspect|status|purge|call|result`` as subprocesses, and their one-line errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from taskora import Taskora

from .helpers import PROJ, run_cli


def test_inspect_ping_sees_two_workers(redis_url: str, tmp_path: Path, start_worker) -> None:
    a = start_worker("-P", "threads", "-c", "1", hostname="alpha@%h")
    b = start_worker("-P", "solo", hostname="beta@node")
    out = run_cli(redis_url, tmp_path, "-A", PROJ, "inspect", "ping", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {a.hostname: "pong", b.hostname: "pong"}
    human = run_cli(redis_url, tmp_path, "inspect", "ping", "-A", PROJ)
    assert "2 nodes online." in human.stdout and "->  beta@node: OK" in human.stdout
    assert a.hostname == f"alpha@{socket.gethostname()}"


def test_hostname_expands_like_celery(redis_url: str, tmp_path: Path, start_worker) -> None:
    start_worker("-P", "solo", hostname="exp@%h")
    expected = f"exp@{socket.gethostname()}"
    out = run_cli(redis_url, tmp_path, "inspect", "stats", "-A", PROJ, "--json", "-d", expected)
    stats = json.loads(out.stdout)[expected]
    assert (stats["pool"], stats["concurrency"]) == ("solo", 1)  # one slot, whatever the machine's cores


def test_inspect_registered_active_and_scheduled(client: Taskora, redis_url: str, tmp_path: Path,
                                                 start_worker) -> None:  # fmt: skip
    worker = start_worker("-P", "threads", "-c", "1", "-Q", "slow")
    running = client.dispatch("slow", {"tag": "act", "seconds": 15})
    later = client.dispatch("slow", {"tag": "later", "seconds": 0}, delay=60)
    registered_out = run_cli(redis_url, tmp_path, "--json", "-A", PROJ, "inspect", "registered", "-t", "5")
    registered = json.loads(registered_out.stdout)
    assert registered[worker.hostname] == ["careful", "slow", "slow_async", "stuck"]
    from .helpers import wait_until

    def active_ids() -> list[str]:
        out = run_cli(redis_url, tmp_path, "--json", "-A", PROJ, "inspect", "active", "-t", "5")
        return [j["id"] for j in json.loads(out.stdout)[worker.hostname]]

    assert wait_until(lambda: running.id in active_ids(), what="the running job to show as active")
    scheduled = json.loads(run_cli(redis_url, tmp_path, "--json", "-A", PROJ, "inspect", "scheduled", "-t", "5").stdout)
    assert [j["id"] for j in scheduled[worker.hostname]] == [later.id]


def test_inspect_without_workers_fails(redis_url: str, tmp_path: Path) -> None:
    out = run_cli(redis_url, tmp_path, "inspect", "ping", "-A", PROJ, "-t", "0.2")
    assert out.returncode == 1 and "No nodes replied" in out.stderr


def test_call_and_result_round_trip(redis_url: str, tmp_path: Path, start_worker) -> None:
    start_worker("-P", "threads", "-c", "2")
    called = run_cli(redis_url, tmp_path, "call", "add", "-A", PROJ, "--args", '[{"a": 20, "b": 22}]')
    assert called.returncode == 0, called.stderr
    job_id = called.stdout.strip()
    out = run_cli(redis_url, tmp_path, "result", job_id, "-A", PROJ, "--wait", "--timeout", "10", "--json")
    assert json.loads(out.stdout) == {"id": job_id, "task": "add", "state": "completed", "result": 42}
    waited = run_cli(redis_url, tmp_path, "-A", PROJ, "--json", "call", "add", "--data", '{"a": 1, "b": 2}', "--wait")
    assert json.loads(waited.stdout)["result"] == 3


def test_result_of_unknown_job_and_bad_json(redis_url: str, tmp_path: Path) -> None:
    missing = run_cli(redis_url, tmp_path, "result", "nope", "-A", PROJ)
    assert missing.returncode == 1 and "no job 'nope'" in missing.stderr
    bad = run_cli(redis_url, tmp_path, "call", "add", "-A", PROJ, "--args", "[1,")
    assert bad.returncode == 2 and "--args" in bad.stderr and "not valid JSON" in bad.stderr


def test_status_counts_jobs(client: Taskora, redis_url: str, tmp_path: Path) -> None:
    for i in range(3):
        client.dispatch("add", {"a": i, "b": i})
    out = run_cli(redis_url, tmp_path, "status", "-A", PROJ, "--json", "-t", "0.2")
    report = json.loads(out.stdout)
    assert report["tasks"]["add"]["waiting"] == 3 and report["workers"] == []


def test_purge_asks_unless_forced(client: Taskora, redis_url: str, tmp_path: Path) -> None:
    handles = [client.dispatch("add", {"a": 1, "b": 1}) for _ in range(4)]
    declined = run_cli(redis_url, tmp_path, "purge", "-A", PROJ, input="n\n")
    assert declined.returncode == 1 and "Delete 4 waiting/delayed job(s)" in declined.stderr
    assert client.adapter.counts("add")["waiting"] == 4
    forced = run_cli(redis_url, tmp_path, "purge", "-A", PROJ, "-f", "--json")
    assert json.loads(forced.stdout)["purged"] == 4
    assert client.adapter.counts("add")["waiting"] == 0 and handles[0].state() is None


def test_unknown_app_is_a_one_line_error(redis_url: str, tmp_path: Path) -> None:
    for args in (["worker", "-A", "no_such_module_xyz"], ["-A", "no_such_module_xyz", "status"],
                 ["inspect", "ping", "-A", "tests.cli.proj_native:nothing"]):
        out = run_cli(redis_url, tmp_path, *args)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("Error: -A "), out.stderr


def test_dead_broker_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    for args in (["worker", "-A", PROJ, "-P", "solo", "--connect-retries", "0"],
                 ["inspect", "ping", "-A", PROJ], ["status", "-A", PROJ],
                 ["call", "add", "-A", PROJ, "--data", "1"], ["result", "x", "-A", PROJ]):
        out = run_cli(dead, tmp_path, *args)
        assert out.returncode == 3, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "cannot reach" in out.stderr, out.stderr


def test_missing_subcommand_module_breaks_only_itself(redis_url: str, tmp_path: Path) -> None:
    from taskora.cli import COMMANDS

    listing = run_cli(redis_url, tmp_path, "--help")
    assert listing.returncode == 0 and all(name in listing.stdout for name in COMMANDS)
