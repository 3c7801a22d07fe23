"""Claim throughput with per-key concurrency, against a plain claim, on one real redis-server.

One process drives the engine's own transitions back to back (a claim, then ack-and-claim-the-next in
one round trip, as a 1-slot worker does), with no handler work, so the numbers are the scripts' cost and
one round trip each. Three backlogs of N jobs, one task each, drained in blocks of 250 that take turns
(so the load of a shared machine hits them alike); the median over blocks is each backlog's rate:

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
BLOCK = 250
KINDS = ("plain", "keyed", "held")


def _fill(app: Taskora, kind: str, jobs: int) -> None:
    task = app.tasks[f"claim-{kind}"]
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
    app.tasks["claim-held"].dispatch(-1, concurrency_key="full", concurrency_limit=1, priority=1000)
    assert app.adapter.claim("claim-held", uuid.uuid4().hex, LOCK_MS).job is not None


class _Drain:
    """A 1-slot worker's loop on one backlog, a block at a time: a claim, then ack-and-claim-the-next."""

    def __init__(self, app: Taskora, kind: str) -> None:
        self.adapter, self.task = app.adapter, f"claim-{kind}"
        self.job: Any = self.adapter.claim(self.task, uuid.uuid4().hex, LOCK_MS).job
        self.done = 0

    def block(self, size: int) -> float | None:
        """Claims+acks per second over the next ``size`` jobs (None when the backlog is drained)."""
        if self.job is None:
            return None
        began, n = time.perf_counter(), 0
        while n < size and self.job is not None:
            self.job = self.adapter.ack(self.job, "null", next_token=uuid.uuid4().hex, lock_ttl_ms=LOCK_MS).job
            n += 1
        self.done += n
        return n / (time.perf_counter() - began) if n == size else None  # a short last block is dropped


def run_once(server: RedisServer, jobs: int, block: int = BLOCK) -> dict[str, list[float]]:
    """Rates of ``block``-job blocks per backlog, the three backlogs taking turns (in a rotating order) so
    that a slow moment of the shared machine hits each alike (the jobs a full key holds back excluded)."""
    app = Taskora(server.url)
    app.adapter.client.flushall()  # type: ignore[attr-defined]
    for kind in KINDS:
        app.task(f"claim-{kind}", lambda _: None)
    _occupy_the_full_key(app)
    for kind in KINDS:
        _fill(app, kind, jobs)
    drains = {kind: _Drain(app, kind) for kind in KINDS}
    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for turn in range(jobs // block + 1):
        for kind in KINDS[turn % 3:] + KINDS[:turn % 3]:
            rate = drains[kind].block(block)
            if rate is not None:
                rates[kind].append(rate)
    for kind, drain in drains.items():
        expected = jobs - (jobs + 9) // 10 if kind == "held" else jobs
        assert drain.done == expected, f"{kind}: ran {drain.done} jobs, expected {expected}"
    app.close()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    per_run: dict[str, list[float]] = {kind: [] for kind in KINDS}
    with RedisServer() as server:
        for _ in range(args.runs):
            for kind, rates in run_once(server, args.jobs).items():
                per_run[kind].append(statistics.median(rates))
    plain = statistics.median(per_run["plain"])
    print(f"| backlog ({args.jobs:,} jobs, {args.runs} runs, {BLOCK}-job blocks in turn) "
          "| claims+acks/s, median of the runs' block medians (min–max) | vs plain |")
    print("|---|---|---|")
    for kind, values in per_run.items():
        median = statistics.median(values)
        print(f"| {kind} | {median:,.0f} ({min(values):,.0f}–{max(values):,.0f}) | {median / plain:.2f} |")


if __name__ == "__main__":
    main()
