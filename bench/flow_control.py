"""Dispatch with flow control against plain dispatch: what the one-script admission check costs.

Starts its own redis-server, then times single dispatches from one thread (no worker running), each variant
on a task of its own, in blocks of 250 that alternate the variants (so drift in the machine's load hits them
alike). Reports the median jobs/s over the blocks of each variant, its ratio to plain dispatch, and the
paired ratio (the median over rounds of each round's variant block against that round's plain block), which
a shift in the machine's load between rounds does not move. A debounce job is a delayed job, so
``plain, delay 1h`` is there to tell the cost of debouncing from that of delaying.

    python -m bench.flow_control                  # 5,000 dispatches of each variant x 5 rounds
    python -m bench.flow_control --jobs 1000 --rounds 3

The two ``dispatch_many`` rows send the same jobs in batches of 50: a batch with ``deduplicate`` items
(one script call deciding each item) against a plain batch.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from taskora import Taskora

from .redis_server import RedisServer

WARMUP = 50


def _variants(n: int) -> dict[str, Callable[[int], dict[str, Any]]]:
    """Per variant: the dispatch options of job ``i``."""
    return {
        "plain": lambda i: {},
        "plain, delay 1h": lambda i: {"delay": "1h"},  # what a debounce job is: a delayed one
        "deduplicate (new key each)": lambda i: {"deduplicate": {"key": f"k{i}"}},
        "deduplicate (refused)": lambda i: {"deduplicate": {"key": "one"}},
        "throttle (admitted)": lambda i: {"throttle": {"key": "api", "max": n + WARMUP, "window": "1h"}},
        "throttle (refused)": lambda i: {"throttle": {"key": "full", "max": 1, "window": "1h"}},
        "debounce (new key each)": lambda i: {"debounce": {"key": f"k{i}", "delay": "1h"}},
        **BATCHED,
    }


#: Variants sent with ``dispatch_many`` in batches of BATCH (the others one ``dispatch`` per job).
BATCHED = {"dispatch_many, plain": lambda i: {}, "dispatch_many, deduplicate (new key each)":
           lambda i: {"deduplicate": {"key": f"k{i}"}}}
BATCH = 50


def _block(task: Any, options: Callable[[int], dict[str, Any]], first: int, size: int, batched: bool = False) -> float:
    """Jobs/s of ``size`` dispatches numbered from ``first`` (options and payloads built beforehand)."""
    args = [({"i": i}, options(i)) for i in range(first, first + size)]
    if batched:
        batches = [args[n:n + BATCH] for n in range(0, size, BATCH)]
        t0 = time.perf_counter()
        for batch in batches:
            task.dispatch_many(batch)
        return size / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for data, opts in args:
        task.dispatch(data, **opts)
    return size / (time.perf_counter() - t0)


def run(jobs: int, rounds: int, block: int = 250) -> dict[str, list[float]]:
    """Each round times one block of every variant, in an order that rotates; the machine's load (other
    processes on a shared box) then hits every variant alike. Returns every block's jobs/s per variant, in
    round order (``summary`` takes medians)."""
    variants = _variants(jobs * rounds)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    with RedisServer() as server:
        app = Taskora(server.url)
        tasks = {name: app.task(f"bench-flow-{n}", lambda _: None) for n, name in enumerate(variants)}
        for name, task in tasks.items():
            _block(task, variants[name], -WARMUP, WARMUP, name in BATCHED)
        names = list(variants)
        for r in range(rounds * (jobs // block)):
            for name in names[r % len(names):] + names[:r % len(names)]:
                rates[name].append(_block(tasks[name], variants[name], r * block, block, name in BATCHED))
        app.close()
    return rates


def summary(rates: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """Per variant: the median jobs/s over its blocks, and the median over rounds of its ratio to the plain
    block of the same round (the paired ratio: a round's blocks run within a fraction of a second, so a
    change in the machine's load between rounds cancels out, where the ratio of two medians keeps it)."""
    out = {}
    for name, values in rates.items():
        base = rates["dispatch_many, plain" if name in BATCHED else "plain"]
        paired = statistics.median(v / b for v, b in zip(values, base, strict=True))
        out[name] = (statistics.median(values), paired)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    medians = summary(run(args.jobs, args.rounds))
    plain = medians["plain"][0]
    print(f"| dispatch ({args.jobs:,} x {args.rounds} rounds, median of 250-job blocks) | jobs/s | vs plain "
          "(dispatch_many rows: vs the plain batch) | paired, median of per-round ratios |")
    print("|---|---:|---:|---:|")
    for name, (rate, paired) in medians.items():  # a batch row against the plain batch
        base = medians["dispatch_many, plain"][0] if name in BATCHED else plain
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f} | {paired:.2f} |")


if __name__ == "__main__":
    main()
