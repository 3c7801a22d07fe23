"""Claim throughput with per-key concurrency, against a plain claim, on one real redis-server.

One process drives the engine's own transitions back to back (a claim, then ack-and-claim-the-next in
one round trip, as a 1-slot worker does), with no handler work, so the numbers are the scripts' cost and
one round trip each. Three backlogs of N jobs:

- ``plain``: no concurrency key;
- ``keyed``: every job has a key (100 keys, limit 2); the slot is never full, so this is the cost of
  taking and freeing a slot;
- ``held``: as ``keyed``, plus one key is full the whole run (a job of it stays active) and every
  tenth job has that key, so claims also skip held jobs and put them back.

    python -m bench.claim_concurrency                 # 20,000 jobs per backlog, 3 runs
    python -m bench.claim_concurrency --jobs 5000 --runs 1
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

from taskora import Taskora

from .redis_server import RedisServer

LOCK_MS = 30_000
KEYS = 100


def _fill(app: Taskora, kind: str, jobs: int) -> None:
    task = app.tasks["claim"]
    items: list[Any] = []
    for n in range(jobs):
        if kind == "plain":
            items.append(n)
        else:
            key = "full" if kind == "held" and n % 10 == 0 else f"k{n % KEYS}"
            items.append((n, {"concurrency_key": key, "concurrency_limit": 2 if key != "full" else 1}))
    for start in range(0, jobs, 5_000):
        task.dispatch_many(items[start:start + 5_000])


def _occupy_the_full_key(app: Taskora) -> None:
    """One job of key 'full' (limit 1) claimed and never finished: the key stays full."""
    app.tasks["claim"].dispatch(-1, concurrency_key="full", concurrency_limit=1, priority=1000)
    assert app.adapter.claim("claim", uuid.uuid4().hex, LOCK_MS).job is not None


def _drain(app: Taskora) -> int:
    """Claim and ack until nothing is claimable; returns how many jobs ran."""
    adapter, done = app.adapter, 0
    job = adapter.claim("claim", uuid.uuid4().hex, LOCK_MS).job
    while job is not None:
        done += 1
        job = adapter.ack(job, "null", next_token=uuid.uuid4().hex, lock_ttl_ms=LOCK_MS).job
    return done


def run_once(server: RedisServer, kind: str, jobs: int) -> float:
    """Jobs per second claimed and acked for one backlog (the jobs a full key holds back excluded)."""
    app = Taskora(server.url)
    app.adapter.client.flushall()  # type: ignore[attr-defined]
    app.task("claim", lambda _: None)
    if kind == "held":
        _occupy_the_full_key(app)
    _fill(app, kind, jobs)
    began = time.perf_counter()
    done = _drain(app)
    elapsed = time.perf_counter() - began
    expected = jobs - (jobs + 9) // 10 if kind == "held" else jobs
    assert done == expected, f"{kind}: ran {done} jobs, expected {expected}"
    app.close()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"plain": [], "keyed": [], "held": []}
    with RedisServer() as server:
        for _ in range(args.runs):
            for kind in rates:  # interleaved, so a slow moment of the machine hits every kind
                rates[kind].append(run_once(server, kind, args.jobs))
    plain = statistics.median(rates["plain"])
    print(f"| backlog ({args.jobs:,} jobs, {args.runs} runs) | claims+acks/s, median (min–max) | vs plain |")
    print("|---|---|---|")
    for kind, values in rates.items():
        median = statistics.median(values)
        print(f"| {kind} | {median:,.0f} ({min(values):,.0f}–{max(values):,.0f}) | {median / plain:.2f} |")


if __name__ == "__main__":
    main()
