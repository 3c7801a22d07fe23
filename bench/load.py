"""Latency under load: a steady arrival rate at half of the library's own maximum, for a while.

Each library is loaded to the same *fraction* of what it can do (not the same absolute rate,
which would idle the fast ones and swamp the slow ones): 50 % of the lower of its single-producer
enqueue rate and its processing rate, both measured in this run by the harness (``--rate``, with
the pool of its best processing scenario, ``--pool``), or measured here first when the harness
could not (those scenarios not selected). Jobs arrive on a fixed schedule for ``--load-seconds``;
each payload carries its send time, so pickup = handler start − send time. One arrival in
``PROBE_EVERY`` is a probe whose caller also waits for the result: its round trip is measured
under the same load (with results ignored there is no result to wait for, and no round trip).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from . import stamps
from .scenarios import (
    Context,
    enqueue_single,
    first_job,
    ms_percentiles,
    reason_cells,
    run_process,
    start_worker,
    stores_results,
)
from .workers import wait_for_stamps

LOAD_FRACTION = 0.5  # of the library's own measured maximum
PROBE_EVERY = 20  # one arrival in 20 waits for its result (round trip under load)
DEFAULT_POOL = ("threads", 10)  # when the harness passes no pool: the latency scenario's worker


def measured_rate(ctx: Context, pool: tuple[str, int]) -> float:
    """Half the lower of one producer's enqueue rate and the worker's processing rate, measured now."""
    enqueue = enqueue_single(ctx)["jobs_per_s"]
    ctx.redis.flushall()  # this process's driver stays connected: no wait for other clients
    process = run_process(ctx, *pool)["jobs_per_s"]
    ctx.redis.flushall()
    return LOAD_FRACTION * min(enqueue, process)


def send_arrivals(driver: Any, rate: float, seconds: float, probe: bool) -> list[float]:
    """Dispatch on a fixed schedule for ``seconds``; with ``probe`` every PROBE_EVERY-th also waits for its
    result, and the round trips of those are returned."""
    count = max(1, int(rate * seconds))
    round_trips = []
    start = time.perf_counter()
    for k in range(count):
        pause = start + k / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        t0 = time.perf_counter()
        handle = driver.dispatch({"i": k, "t": time.time()})
        if probe and k % PROBE_EVERY == 0:
            driver.result(handle, timeout=30)
            round_trips.append(time.perf_counter() - t0)
    return round_trips


def latency_load(ctx: Context) -> dict:
    """Pickup and round-trip percentiles at LOAD_FRACTION of the library's max arrival rate."""
    pool = ctx.pool or DEFAULT_POOL
    rate = ctx.load_rate or measured_rate(ctx, pool)
    count = max(1, int(rate * ctx.load_seconds))
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(ctx.lib, *pool, ctx.url, path) as worker:
            first_job(ctx, worker, path)
            t0 = time.perf_counter()
            round_trips = send_arrivals(ctx.driver, rate, ctx.load_seconds, stores_results())
            achieved = count / (time.perf_counter() - t0)
            wait_for_stamps(path, 1 + count, 60 + ctx.load_seconds, worker)
        pickups = [start - sent for i, sent, start, _e in stamps.read(path) if i >= 0 and sent]
    rt = ms_percentiles("load_rt", round_trips) if round_trips else reason_cells("load_rt", "results ignored")
    return {"load_rate": rate, "load_achieved": achieved, **ms_percentiles("load_pickup", pickups), **rt}
