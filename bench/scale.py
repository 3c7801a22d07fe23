"""The ``scale`` scenario: how enqueue, memory and claiming hold up as the backlog grows.

A queue that is fast on an empty Redis can slow down as jobs pile up (a sorted set's log n, a list
scanned by LREM, a per-job key that outgrows a compact encoding). The scenario grows one backlog in
steps (``Sizes.scale_steps``: 1,000 → 1,000,000 jobs waiting in a full run) and at each step times
``scale_sample`` single dispatches and reads Redis's memory per waiting job. Claiming is timed twice
with the same one-slot worker: draining the smallest backlog, and taking ``scale_sample`` jobs off the
largest; each ``config.SCALE_CLAIM_RUNS`` times with a fresh worker, the median kept. The ratio of the two is
the flatness the issue asks for.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import config, stamps
from .scenarios import Context, _check_each_once, driver_class, enqueue_untimed, start_worker
from .workers import wait_for_stamps

FILL_CHUNK = 10_000  # jobs enqueued per fill call, so a step's fill never holds a million payloads at once


def scale(ctx: Context) -> dict:
    """Enqueue rate and bytes per waiting job at each step; claim rate at the smallest and largest."""
    steps, sample = ctx.sizes.scale_steps, ctx.sizes.scale_sample
    driver_class(ctx.lib).worker_argv(*config.SCALE_POOL)  # Unsupported before any set-up
    out = {"claim_small_per_s": _median_of_runs(lambda: _claim_rate(ctx, steps[0], drain=True))}
    ctx.redis.flushall()
    base = _used_memory(ctx)
    waiting = 0
    for step in steps:
        waiting = _fill(ctx, waiting, step - sample)
        out[f"enqueue_at_{step}_per_s"] = _timed_dispatches(ctx, waiting, sample)
        waiting = step
        out[f"bytes_at_{step}"] = (_used_memory(ctx) - base) / waiting
    out["claim_large_per_s"] = _median_of_runs(lambda: _claim_from(ctx, waiting, sample))  # each run the next jobs
    return {**out, **_summary(out, steps)}


def _summary(out: dict, steps: tuple[int, ...]) -> dict:
    """The rows of the table: smallest and largest step, and how the largest compares."""
    small, large = steps[0], steps[-1]
    return {
        "enqueue_small_per_s": out[f"enqueue_at_{small}_per_s"],
        "enqueue_large_per_s": out[f"enqueue_at_{large}_per_s"],
        "enqueue_large_ratio": out[f"enqueue_at_{large}_per_s"] / out[f"enqueue_at_{small}_per_s"],
        "bytes_max": max(out[f"bytes_at_{step}"] for step in steps),
        "claim_large_ratio": out["claim_large_per_s"] / out["claim_small_per_s"],
    }


def _median_of_runs(measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(config.SCALE_CLAIM_RUNS))


def _fill(ctx: Context, waiting: int, target: int) -> int:
    """Untimed: enqueue jobs numbered from ``waiting`` until ``target`` wait (batches where the library has them)."""
    while waiting < target:
        count = min(FILL_CHUNK, target - waiting)
        enqueue_untimed(ctx.driver, [{"i": waiting + k} for k in range(count)], ctx.sizes.bulk_batch)
        waiting += count
    return waiting


def _timed_dispatches(ctx: Context, first: int, count: int) -> float:
    """``count`` single dispatches one after the other, numbered from ``first``: jobs per second."""
    payloads = [{"i": first + k} for k in range(count)]
    each = getattr(ctx.driver, "dispatch_each", None)
    t0 = time.perf_counter()
    if each is not None:
        each(payloads)
    else:
        for payload in payloads:
            ctx.driver.dispatch(payload)
    return count / (time.perf_counter() - t0)


def _claim_rate(ctx: Context, backlog: int, drain: bool) -> float:
    """Enqueue ``backlog`` jobs on an empty Redis, then drain them with the scenario's worker: jobs/s."""
    ctx.redis.flushall()
    _fill(ctx, 0, backlog)
    return _claim_from(ctx, backlog, backlog, drain=drain)


def _claim_from(ctx: Context, waiting: int, count: int, drain: bool = False) -> float:
    """Start a worker on ``waiting`` jobs and time its first ``count`` (first start to last end)."""
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(ctx.lib, *config.SCALE_POOL, ctx.url, path) as worker:
            wait_for_stamps(path, count, ctx.sizes.timeout * 0.5, worker)
            worker.stop()  # warm: the jobs it holds finish; the rest of the backlog stays
        records = stamps.read(path)[:count]
    seen = sorted(r[0] for r in records)
    if drain:
        _check_each_once(seen, waiting)
    elif len(set(seen)) != len(seen):
        raise RuntimeError(f"a job ran twice among the first {count} of a {waiting}-job backlog")
    return count / (max(r[3] for r in records) - min(r[2] for r in records))


def _used_memory(ctx: Context) -> int:
    """Read with this process's connections open throughout the steps (a constant, not per job) and no
    worker connected: the claim worker is stopped before the first reading."""
    return int(ctx.redis.info("memory")["used_memory"])
