"""The ``delayed`` scenario: 100,000 delayed jobs that all fall due at the same moment.

Delayed jobs wait in a structure of their own until due (a sorted set, a worker's memory, a schedule)
and must then be promoted to where workers take them. The scenario starts the worker first (so its
start-up is not counted), enqueues N jobs whose delays all end at one instant ``due_at``, and reads from
the stamps how soon after ``due_at`` they ran: **jobs/s from due_at to the last handler end**, and the
**lateness** of each job (handler start − due_at) at p50 and p99.

``due_at`` lies far enough ahead that enqueueing finishes before it: the enqueue rate of delayed jobs is
probed first, the margin is 1.5 × the time N dispatches take at that rate plus 3 s, and a run whose
enqueueing still overran is an error rather than a number.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from . import config, stamps
from .report import percentile
from .scenarios import Context, _check_each_once, driver_class, first_job, start_worker
from .unsupported import Unsupported
from .workers import wait_for_stamps

PROBE = 500  # delayed dispatches timed to size the margin (far in the future, then flushed)


def delayed(ctx: Context) -> dict:
    n, driver = ctx.sizes.delayed, ctx.driver
    driver_class(ctx.lib).worker_argv(*config.DELAYED_POOL)
    if not hasattr(driver, "dispatch_delayed"):
        raise Unsupported("no delayed jobs without a scheduler process")
    margin = n / _probe_rate(ctx) * 1.5 + 3.0
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(ctx.lib, *config.DELAYED_POOL, ctx.url, path) as worker:
            first_job(ctx, worker, path)
            due_at = time.time() + margin
            for k in range(n):
                driver.dispatch_delayed({"i": k}, max(0.0, due_at - time.time()))
            if time.time() > due_at:
                raise RuntimeError(f"enqueueing {n} delayed jobs overran its {margin:.1f} s margin")
            wait_for_stamps(path, n + 1, margin + ctx.sizes.timeout * 0.5, worker)
        records = [r for r in stamps.read(path) if r[0] >= 0]
    _check_each_once([r[0] for r in records], n)
    late = [r[2] - due_at for r in records]
    return {"delayed_per_s": n / (max(r[3] for r in records) - due_at),
            "late_p50_ms": percentile(late, 50) * 1000, "late_p99_ms": percentile(late, 99) * 1000}


def _probe_rate(ctx: Context) -> float:
    """Delayed dispatches per second, on jobs due in an hour that are flushed before the run."""
    t0 = time.perf_counter()
    for _ in range(PROBE):
        ctx.driver.dispatch_delayed({"i": -2}, 3600.0)
    rate = PROBE / (time.perf_counter() - t0)
    ctx.redis.flushall()
    return rate
