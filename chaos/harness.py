"""One chaos run: Redis with an AOF, N jobs, W workers, F faults, then the report.

The harness polls Redis for progress with a deadline (no event tells it that 10,000 jobs are final), and
tolerates Redis being down while it restarts it.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from .events import EventTap
from .faults import Injector, plan
from .processes import Fleet, RedisProcess
from .report import read_runs, summarize, verdict

WORK, POISON = "chaos.work", "chaos.poison"


@dataclass
class Config:
    jobs: int = 1000
    workers: int = 2
    threads: int = 4
    faults: int = 10
    redis_restarts: int | None = None  # default: a quarter of the faults
    duration: float = 20.0  # the window over which faults are spread
    timeout: float | None = None  # give up on unfinished jobs after this (default: duration + 120 s)
    seed: int | None = None
    poison: float = 0.01
    max_sleep: float = 0.2
    pools: tuple[str, ...] = ("threads", "prefork")
    max_redelivery: float = 5.0
    fsync: str = "always"
    keep: bool = False


def load_app(url: str, run_dir: Path) -> Any:
    """The project's app, pointed at this run's Redis (chaos.proj reads its URL when imported)."""
    os.environ["CHAOS_REDIS_URL"], os.environ["CHAOS_RUN_DIR"] = url, str(run_dir)
    import chaos.proj

    return importlib.reload(chaos.proj).app


def enqueue(app: Any, cfg: Config, rng: random.Random) -> tuple[list[str], list[str]]:
    """Dispatch the jobs in batches; about ``cfg.poison`` of them are poison (half abort, half _exit)."""
    n_poison = round(cfg.jobs * cfg.poison)
    if cfg.poison > 0 and cfg.jobs >= 100:
        n_poison = max(n_poison, 1)
    work_items = [{"n": i, "max_sleep": cfg.max_sleep} for i in range(cfg.jobs - n_poison)]
    poison_items = [{"how": rng.choice(("abort", "exit"))} for _ in range(n_poison)]
    work = [
        h.id
        for i in range(0, len(work_items), 1000)
        for h in app.get_task(WORK).dispatch_many(work_items[i : i + 1000])
    ]
    poison = [h.id for h in app.get_task(POISON).dispatch_many(poison_items)]
    return work, poison


def finished(app: Any, total: int) -> bool | None:
    """Whether every job is final; None while Redis cannot be read (it is being restarted)."""
    try:
        counts = [app.adapter.counts(task) for task in (WORK, POISON)]
    except (redis.RedisError, OSError):
        return None
    return bool(sum(c["completed"] + c["failed"] for c in counts) >= total)


def drive(cfg: Config, app: Any, fleet: Fleet, injector: Injector, tap: EventTap, total: int,
          rng: random.Random) -> float:  # fmt: skip
    """Inject the planned faults while jobs run, keep the fleet full; returns when all are final or at timeout."""
    schedule = plan(
        rng, cfg.faults, cfg.faults // 4 if cfg.redis_restarts is None else cfg.redis_restarts, cfg.duration
    )
    timeout = cfg.timeout if cfg.timeout is not None else cfg.duration + 120
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        elapsed = time.monotonic() - start
        while schedule and schedule[0][0] <= elapsed:
            injector.inject(schedule.pop(0)[1])
        fleet.fill()
        tap.poll()
        if finished(app, total):  # faults still planned would only hit idle workers: the report counts them
            break
        time.sleep(0.05)  # polling Redis for progress: there is no event for "every job is final"
    return time.monotonic() - start


def final_states(app: Any, ids: list[str], task: str) -> dict[str, dict[str, Any]]:
    return {job_id: app.adapter.get_job(task, job_id) or {} for job_id in ids}


def run(cfg: Config) -> dict[str, Any]:
    """Run the whole experiment and return the summary (with the verdict under ``problems``)."""
    rng = random.Random(cfg.seed)
    workdir = Path(tempfile.mkdtemp(prefix="taskora-chaos-"))
    server = RedisProcess(workdir, cfg.fsync)
    server.start()
    fleet = Fleet(server.url, workdir, cfg.workers, cfg.threads, cfg.pools)
    try:
        app = load_app(server.url, workdir)
        work, poison = enqueue(app, cfg, rng)
        fleet.fill()
        injector = Injector(fleet, server, rng)
        tap = EventTap(redis.Redis.from_url(server.url), [app.adapter.keys.events(t) for t in (WORK, POISON)])
        elapsed = drive(cfg, app, fleet, injector, tap, len(work) + len(poison), rng)
        fleet.stop_all()
        tap.poll()
        _save_timeline(workdir, injector)
        states = {**final_states(app, work, WORK), **final_states(app, poison, POISON)}
        summary = summarize(
            states, work, poison, read_runs(workdir), injector.deaths, tap.hand_backs, cfg.max_redelivery
        )
        summary.update(
            seconds=round(elapsed, 1),
            faults=dict(_count_kinds(injector.done)),
            faults_injected=len(injector.done),
            faults_planned=cfg.faults,
            seed=cfg.seed,
            workers=cfg.workers,
            threads=cfg.threads,
            workers_started=fleet.started,
            workdir=str(workdir),
        )
        summary["worker_log_errors"] = worker_log_errors(workdir)
        summary["problems"] = verdict(summary, cfg.max_redelivery)
        app.close()
        return summary
    finally:
        fleet.stop_all()
        server.stop()
        if not cfg.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def worker_log_errors(workdir: Path) -> list[tuple[str, int]]:
    """The exceptions the workers logged (a traceback's last line, numbers blanked), most frequent first:
    the first place to look when a run fails."""
    counts: dict[str, int] = {}
    for path in workdir.glob("worker-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if re.match(r"^[A-Za-z_][\w.]*(Error|Exception): ", line):
                shape = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d+", "N", line)[:140]
                counts[shape] = counts.get(shape, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])[:8]


def _save_timeline(workdir: Path, injector: Injector) -> None:
    """Faults and deaths as JSON in the run directory (kept with ``--keep``), to explain a failed run."""
    (workdir / "faults.json").write_text(json.dumps({"faults": injector.done, "deaths": injector.deaths}, indent=1))


def _count_kinds(done: list[tuple[float, str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, kind, _ in done:
        counts[kind] = counts.get(kind, 0) + 1
    return counts
