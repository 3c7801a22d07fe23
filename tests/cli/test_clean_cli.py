"""``taskora clean TASK --state ... --older-than AGE [--limit N]`` as a subprocess against redis-server."""

from __future__ import annotations

import json
from pathlib import Path

from taskora import Taskora

from .helpers import PROJ, run_cli


def completed_jobs(client: Taskora, count: int, finished_ms: int) -> list[str]:
    """``count`` completed jobs of ``add`` that finished at ``finished_ms`` (run by an in-process worker)."""
    client.task("add", lambda data: data["a"] + data["b"])
    ids = [client.dispatch("add", {"a": n, "b": 1}).id for n in range(count)]
    client.start()
    for job_id in ids:
        client.handle("add", job_id).result(timeout=10)
    client.close(timeout=5)
    completed = client.adapter.keys.state_set("add", "completed")
    client.adapter.raw_client().zadd(completed, {job_id: finished_ms for job_id in ids})
    return ids


def test_clean_deletes_old_completed_jobs_up_to_the_limit(redis_url: str, tmp_path: Path) -> None:
    client = Taskora(redis_url, retention={"completed": {"max_age": "30d", "max_items": 1000}})
    ids = completed_jobs(client, 5, client.adapter.now_ms() - 2 * 3600_000)
    kept = client.dispatch("add", {"a": 0, "b": 0}).id  # waiting: never cleaned
    out = run_cli(redis_url, tmp_path, "clean", "add", "-A", PROJ, "--older-than", "1h", "--limit", "3", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"task": "add", "state": "completed", "olderThan": "1h", "deleted": 3}
    human = run_cli(redis_url, tmp_path, "clean", "add", "-A", PROJ, "--state", "completed", "--older-than", "1h")
    assert human.stdout.strip() == "Deleted 2 completed jobs of add older than 1h."
    assert all(client.inspect().find(job_id) is None for job_id in ids)
    assert client.adapter.counts("add")["waiting"] == 1 and client.handle("add", kept).state() == "waiting"


def test_clean_refuses_bad_input_with_one_line(redis_url: str, tmp_path: Path) -> None:
    for args, message in ((["--older-than", "soon"], "clean: older_than"),
                          (["--older-than", "1h", "--state", "active"], "Invalid value for '--state'"),
                          ([], "Missing option '--older-than'")):
        out = run_cli(redis_url, tmp_path, "clean", "add", "-A", PROJ, *args)
        assert out.returncode != 0 and message in out.stderr, (args, out.stderr)
    unknown = run_cli(redis_url, tmp_path, "clean", "nope", "-A", PROJ, "--older-than", "0")
    assert unknown.returncode == 1 and "no task named 'nope'" in unknown.stderr
