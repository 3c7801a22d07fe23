"""The chaos harness at a small size (issue #20): workers and prefork children killed, a worker warm-restarted
and Redis restarted under 300 jobs, 1% of them poison. No job may be lost or complete twice, and poison jobs
must end failed with WorkerLostError.

The harness runs as a subprocess (it starts its own redis-server with an AOF, on its own port), so this test
shares nothing with the session's server. Its only timing bounds are the harness's own (its timeout, and the
hand-back bound that decides its exit code, checked here through ``problems``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: 300 jobs on 2 workers (threads + prefork, 2 slots each), 8 faults over 6 s of which 1 restarts Redis.
ARGS = ["--jobs", "300", "--workers", "2", "--threads", "2", "--faults", "8", "--redis-restarts", "1",
        "--duration", "6", "--timeout", "45", "--poison", "0.01", "--seed", "7", "--json"]  # fmt: skip


def run_chaos() -> dict:
    done = subprocess.run([sys.executable, "-m", "chaos", *ARGS], cwd=ROOT, capture_output=True, text=True,
                          timeout=90)  # fmt: skip
    assert done.stdout.strip(), f"the harness printed nothing (exit {done.returncode}):\n{done.stderr}"
    return json.loads(done.stdout)


def test_no_job_is_lost_or_completed_twice_under_faults() -> None:
    summary = run_chaos()
    # The faults happened while jobs ran: every planned one, a Redis restart among them
    assert summary["faults_injected"] == summary["faults_planned"] == 8, summary["faults"]
    assert summary["faults"].get("redis_restart") == 1, summary["faults"]
    # Every job reached a final state, and none finished twice
    assert summary["lost"] == 0, summary["lost_ids"]
    assert summary["duplicates"] == 0, summary["duplicate_ids"]
    # Poison jobs (3 of 300) failed with WorkerLostError, after more than one run
    assert summary["poison_jobs"] == 3
    assert summary["poison_ok"], summary["poison_outcomes"]
    assert all(int(runs) > 1 for runs in summary["poison_runs"]), summary["poison_runs"]
    # Killed runs were handed back within the harness's bound (5 s)
    assert not [p for p in summary["problems"] if p.startswith("max hand-back")], summary["problems"]
