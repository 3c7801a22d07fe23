"""``python -m chaos``: a fault-injection run against real workers and a real redis-server (issue #20).

Exit code 1 if a job was lost, completed twice, handed back later than ``--max-redelivery`` seconds, a poison
job did not fail with WorkerLostError, or an ordinary job failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .harness import Config, run


def parse(argv: list[str]) -> tuple[Config, bool]:
    """The run's configuration, and whether to print JSON."""
    p = argparse.ArgumentParser(
        prog="python -m chaos", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--jobs", type=int, default=1000)
    p.add_argument("--workers", type=int, default=2, help="workers kept up (threads and prefork in turn)")
    p.add_argument("--threads", type=int, default=4, help="-c of each worker (slots, or prefork children)")
    p.add_argument("--faults", type=int, default=10)
    p.add_argument("--redis-restarts", type=int, default=None, help="how many faults restart Redis (default F/4)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds over which the faults are spread")
    p.add_argument("--timeout", type=float, default=None, help="give up after this (default duration + 120)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--poison", type=float, default=0.01, help="share of poison jobs")
    p.add_argument("--max-sleep", type=float, default=0.2, help="a job sleeps up to this many seconds")
    p.add_argument("--pools", default="threads,prefork")
    p.add_argument(
        "--max-redelivery",
        type=float,
        default=5.0,
        help="fail if a cut-short run's job is put back later than this after its death",
    )
    p.add_argument("--fsync", choices=("always", "everysec"), default="always")
    p.add_argument("--keep", action="store_true", help="keep the run directory (logs, run files, AOF)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    cfg = Config(
        a.jobs,
        a.workers,
        a.threads,
        a.faults,
        a.redis_restarts,
        a.duration,
        a.timeout,
        a.seed,
        a.poison,
        a.max_sleep,
        tuple(a.pools.split(",")),
        a.max_redelivery,
        a.fsync,
        a.keep,
    )
    return cfg, a.json


def render(s: dict[str, Any]) -> str:
    """The summary as an aligned two-column table."""
    rows = [
        ("jobs", s["jobs"]), ("poison jobs", s["poison_jobs"]), ("seconds", s["seconds"]),
        ("faults", f"{s['faults_injected']}/{s['faults_planned']} {s['faults']}"),
        ("workers started", s["workers_started"]), ("lost", s["lost"]), ("duplicates", s["duplicates"]),
        ("re-executed", s["re_executed"]),
        ("rerun after late kill", f"{s['rerun_after_late_kill']} (max end-to-kill gap {s['late_kill_max_gap']} s)"),
        ("ordinary jobs failed", s["work_failed"]),
        ("poison outcomes", s["poison_outcomes"]), ("poison runs", s["poison_runs"]),
        ("poison errors", s["poison_errors"]),
        ("hand-backs", f"{s['hand_backs']} ({s['hand_backs_unseen']} not seen in the event streams)"),
        ("hand-back p50/p90/max (s)", f"{s['hand_back_p50']} / {s['hand_back_p90']} / {s['hand_back_max']}"),
        ("redeliveries (next run)", s["redeliveries"]),
        ("next-run p50/p90/max (s)", f"{s['redelivery_p50']} / {s['redelivery_p90']} / {s['redelivery_max']}"),
        ("slowest next runs (s)", [d for d, _ in s["slowest_redeliveries"]]),
        ("errors in worker logs", s["worker_log_errors"] or "none"),
        ("verdict", "; ".join(s["problems"]) or "OK"),
    ]  # fmt: skip
    return "\n".join(f"{k:>28}: {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    cfg, as_json = parse(sys.argv[1:] if argv is None else argv)
    summary = run(cfg)
    print(json.dumps(summary, indent=2) if as_json else render(summary))
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
