"""``python -m bench.board_clean [--jobs 100000] [--batch 1000]``: how long "clean by age" takes and how long
its longest single script call holds Redis.

Fills a throw-away redis-server with ``--jobs`` completed jobs (as bench.board_load does: a few hundred real
ones, the rest clones of a real hash), with a log entry each, then runs ``app.clean(TASK, older_than=0)``.
Reports the wall time, the number of script calls, and from Redis' own SLOWLOG (every command logged) the
longest and the median ``clean_finished`` call: the time other clients could have waited behind it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from taskora import Taskora

from .board_load import TASK, fill
from .redis_server import RedisServer


def add_logs(app: Taskora, jobs: int) -> None:
    """One log entry per job, so a clean deletes two keys per job as it would in production."""
    client: Any = app.adapter.raw_client()
    completed = app.adapter.keys.state_set(TASK, "completed")
    pipe = client.pipeline(transaction=False)
    for n, job_id in enumerate(client.zrange(completed, 0, -1)):
        pipe.rpush(app.adapter.keys.job(TASK, job_id.decode()) + ":logs", '{"level":"info","message":"row"}')
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    assert client.zcard(completed) == jobs


def script_calls_us(client: Any) -> list[int]:
    """Durations (µs) of the script calls (FCALL or EVALSHA) in the SLOWLOG (the only scripts run meanwhile are the
    clean's)."""
    entries = client.slowlog_get(1_000_000)
    return [int(e["duration"]) for e in entries if e["command"].upper().startswith((b"EVALSHA", b"FCALL"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    with RedisServer() as redis_server:
        app = Taskora(redis_server.url)
        fill(app, args.jobs)
        add_logs(app, args.jobs)
        client: Any = app.adapter.raw_client()
        keys_before = client.dbsize()
        client.config_set("slowlog-log-slower-than", 0)
        client.config_set("slowlog-max-len", 1_000_000)  # Redis 7 also logs the commands a script runs
        client.slowlog_reset()
        started = time.perf_counter()
        deleted = app.clean(TASK, older_than=0, batch=args.batch)
        wall = time.perf_counter() - started
        calls = sorted(script_calls_us(client))
        print(f"{deleted:,} of {args.jobs:,} completed jobs deleted (keys {keys_before:,} -> {client.dbsize():,}) "
              f"in {wall:.2f} s; batch {args.batch}: {len(calls)} script calls, "
              f"longest {calls[-1] / 1000:.1f} ms, median {statistics.median(calls) / 1000:.1f} ms")
        app.close(timeout=5)


if __name__ == "__main__":
    main()
