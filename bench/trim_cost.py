"""How long one retention trim call holds Redis, by batch size: ``python -m bench.trim_cost``.

Redis runs nothing else while a script runs, so a trim call's duration is a pause every client of that Redis
meets (a worker's claim, a producer's dispatch, another application's ``GET``). This fills a task's completed
set on a fresh ``redis-server`` and times trim calls of each size through ``SLOWLOG`` (the server's own
measure of a command's execution, no network in it), with the per-job cost beside it.
"""

from __future__ import annotations

import argparse
from typing import Any

import redis

from taskora import Taskora
from taskora.adapters.base import Completion

from .redis_server import RedisServer

SIZES = (1000, 250, 100, 50)
DAY_MS = 86_400_000


def _completed_jobs(app: Taskora, jobs: int) -> None:
    """``jobs`` no-op jobs completed with their results kept, as a worker with results stored leaves them."""
    task = app.task("noop", lambda _: None)
    for start in range(0, jobs, 500):
        task.dispatch_many([None] * min(500, jobs - start))
    batch = app.adapter.ack_many("noop", [], claim=8, token="fill", lock_ttl_ms=30_000)
    while batch.jobs:
        batch = app.adapter.ack_many("noop", [Completion(job, "null", True) for job in batch.jobs], claim=8,
                                     token="fill", lock_ttl_ms=30_000)


def _text(command: bytes | str) -> str:
    return command.decode("utf-8", "replace") if isinstance(command, bytes) else command


def _timed_trim(app: Taskora, client: redis.Redis, size: int) -> tuple[int, int]:
    """Jobs one trim call of ``size`` deleted, and the µs Redis spent on it."""
    client.slowlog_reset()
    deleted = app.adapter.trim("noop", completed_age_ms=DAY_MS, completed_count=100, failed_age_ms=DAY_MS,
                               failed_count=100, batch=size)
    entries: list[dict[str, Any]] = client.slowlog_get(16)
    durations = [e["duration"] for e in entries if _text(e["command"]).upper().startswith(("EVALSHA", "FCALL"))]
    return deleted, max(durations, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.trim_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3, help="trim calls timed per batch size")
    args = parser.parse_args()
    with RedisServer() as server:
        app, client = Taskora(server.url), redis.Redis.from_url(server.url)
        _completed_jobs(app, 100 + args.calls * sum(SIZES))
        client.config_set("slowlog-log-slower-than", 0)
        for size in SIZES:
            timed = [_timed_trim(app, client, size) for _ in range(args.calls)]
            micros = sorted(us for _, us in timed)
            print(f"batch {size:5d}: {micros[len(micros) // 2]:6d} µs per call (median of {args.calls}), "
                  f"{micros[len(micros) // 2] / size:.2f} µs per job deleted; deleted {[n for n, _ in timed]}")
        app.close()


if __name__ == "__main__":
    main()
