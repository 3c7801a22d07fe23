"""The scenarios, written once against a small driver interface.

Every library runs exactly this measurement code; a driver (bench/lib_celery.py,
bench/lib_taskora.py) only says how that library dispatches one job, dispatches a batch, waits for
a result, verifies a finished run and starts its worker. What each scenario measures, exactly, is
written in bench/README.md; the docstrings here say how.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis

from . import bare_pickup, config, flaky, stamps
from .report import percentile
from .unsupported import Unsupported
from .workers import REPO_ROOT, Worker, wait_for_stamps, worker_env

# library -> (driver module, driver class); importing a driver module does not import its library
DRIVERS = {
    "taskora": ("lib_taskora", "TaskoraDriver"),
    "compat": ("lib_celery", "CompatDriver"),
    "celery": ("lib_celery", "CeleryDriver"),
    "dramatiq": ("lib_dramatiq", "DramatiqDriver"),
    "rq": ("lib_rq", "RQDriver"),
    "arq": ("lib_arq", "ArqDriver"),
    "huey": ("lib_huey", "HueyDriver"),
    "taskiq": ("lib_taskiq", "TaskiqDriver"),
}


def driver_class(lib: str) -> type:
    """A library's driver class; importing it does not import the library itself."""
    if lib not in DRIVERS:
        raise ValueError(f"unknown library {lib!r}")
    module, name = DRIVERS[lib]
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def load_driver(lib: str):
    """A ready driver: imports the library and its app module (ImportError if it is not usable)."""
    return driver_class(lib)()


class Context:
    """What a scenario gets: the library, the Redis URL, the sizes and a plain redis-py client."""

    def __init__(self, lib: str, url: str, sizes: config.Sizes):
        self.lib, self.url, self.sizes = lib, url, sizes
        self.redis = redis.Redis.from_url(url)
        self._driver = None
        # latency under load (bench/load.py): rate and pool from the harness (None: measure here)
        self.load_rate: float | None = None
        # the worker pool latency_load and process_best run, when the harness or the sweep (bench/sweep.py) names it
        self.pool: tuple[str, int] | None = None
        self.load_seconds: float = sizes.load_seconds

    @property
    def driver(self):
        if self._driver is None:
            self._driver = load_driver(self.lib)
        return self._driver

    def close(self) -> None:
        if self._driver is not None:
            try:
                self._driver.close()
            except Exception:  # closing is best effort, the process ends anyway
                pass
        self.redis.close()


def start_worker(lib: str, pool: str, concurrency: int, url: str, stamp_file: str | None,
                 extra_argv: Sequence[str] = ()) -> Worker:
    """Start a library's worker with its own command (from the driver class: no app, no connection),
    ``extra_argv`` appended to it (a tool trying one option of that worker; the scenarios pass none).

    Raises ``Unsupported`` when the library has no such pool; a driver's ``worker_env()`` (if it has
    one) adds the environment variables its worker is tuned with.
    """
    cls = driver_class(lib)
    argv = [*cls.worker_argv(pool, concurrency), *extra_argv]
    env = worker_env(url, stamp_file)
    env.update(getattr(cls, "worker_env", dict)())
    return Worker(argv, env)


def wait_clients(client: redis.Redis, expected: int = 1, timeout: float = 15.0) -> None:
    """Wait until only ``expected`` clients are connected (the previous scenario's are gone)."""
    deadline = time.monotonic() + timeout
    while int(client.info("clients")["connected_clients"]) > expected:
        if time.monotonic() > deadline:
            raise TimeoutError("other Redis clients are still connected")
        time.sleep(0.02)


def fresh_redis(client: redis.Redis) -> None:
    """Every scenario starts on an empty Redis with no other client."""
    wait_clients(client)
    client.flushall()


def _chunks(items: list, size: int) -> list[list]:
    return [items[k:k + size] for k in range(0, len(items), size)]


def enqueue_untimed(driver, payloads: list[dict], batch: int) -> list:
    """Set-up enqueueing: batches when the library has them, else one by one (not measured)."""
    if not driver.can_batch():
        return [driver.dispatch(p) for p in payloads]
    return [h for chunk in _chunks(payloads, batch) for h in driver.dispatch_batch(chunk)]


def _warm_up(ctx: Context) -> None:
    """Untimed dispatches that open the connections and load the scripts."""
    for _ in range(ctx.sizes.warmup):
        ctx.driver.dispatch({"i": -1})


def enqueue_single(ctx: Context) -> dict:
    """N dispatches one after the other, no worker running: N / elapsed."""
    n, driver = ctx.sizes.enqueue_single, ctx.driver
    _warm_up(ctx)
    payloads = [{"i": i} for i in range(n)]
    each = getattr(driver, "dispatch_each", None)  # asyncio drivers: one coroutine for the loop
    t0 = time.perf_counter()
    if each is not None:
        each(payloads)
    else:
        for payload in payloads:
            driver.dispatch(payload)
    return {"jobs_per_s": n / (time.perf_counter() - t0)}


def enqueue_background(ctx: Context) -> dict:
    """N dispatches one after the other, each returning before Redis has its job (taskora's
    ``background_dispatch``), timed until the last job is in Redis: N / elapsed. Same N as ``enqueue_bulk``:
    at these rates ``enqueue_single``'s N would be over in a few dozen milliseconds."""
    n, driver = ctx.sizes.enqueue_bulk, ctx.driver
    each = getattr(driver, "dispatch_in_background", None)
    if each is None:
        raise Unsupported("every call waits for the broker")
    _warm_up(ctx)
    payloads = [{"i": i} for i in range(n)]
    t0 = time.perf_counter()
    each(payloads)
    elapsed = time.perf_counter() - t0
    waiting, expected = driver.jobs_waiting(), n + ctx.sizes.warmup
    if waiting != expected:
        raise RuntimeError(f"{waiting} jobs wait in Redis after {expected} dispatches (warm-up included)")
    return {"jobs_per_s": n / elapsed}


def enqueue_bulk(ctx: Context) -> dict:
    """N jobs in batches of ``bulk_batch`` with the library's batch call, no worker: N / elapsed."""
    n, driver = ctx.sizes.enqueue_bulk, ctx.driver
    if not driver.can_batch():
        raise Unsupported("no bulk enqueue")
    driver.dispatch_batch([{"i": -1} for _ in range(ctx.sizes.warmup)])
    batches = _chunks([{"i": i} for i in range(n)], ctx.sizes.bulk_batch)
    t0 = time.perf_counter()
    for batch in batches:
        driver.dispatch_batch(batch)
    return {"jobs_per_s": n / (time.perf_counter() - t0)}


def run_process(ctx: Context, pool: str, concurrency: int) -> dict:
    """N jobs enqueued first, then a worker started: N / (last handler end - first handler start)."""
    n, driver = ctx.sizes.process, ctx.driver
    driver_class(ctx.lib).worker_argv(pool, concurrency)  # raises Unsupported before any set-up
    handles = enqueue_untimed(driver, [{"i": i} for i in range(n)], ctx.sizes.bulk_batch)
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(ctx.lib, pool, concurrency, ctx.url, path) as worker:
            wait_for_stamps(path, n, ctx.sizes.timeout * 0.7, worker)
            driver.verify(handles, timeout=30)
        records = stamps.read(path)
    _check_each_once([r[0] for r in records], n)
    first_start = min(r[2] for r in records)
    last_end = max(r[3] for r in records)
    return {"jobs_per_s": n / (last_end - first_start)}


def _check_each_once(seen: list[int], n: int) -> None:
    """Each of the n jobs ran exactly once (a library that loses or repeats jobs is not fast)."""
    if sorted(seen) == list(range(n)):
        return
    counts: dict[int, int] = {}
    for i in seen:
        counts[i] = counts.get(i, 0) + 1
    repeated = sorted(i for i, c in counts.items() if c > 1)
    missing = sorted(set(range(n)) - set(counts))
    raise RuntimeError(f"handlers ran {len(seen)} times for {n} jobs: {len(repeated)} repeated "
                       f"(e.g. {repeated[:5]}), {len(missing)} missing (e.g. {missing[:5]})")


def _in_pool(name: str):
    """The process scenario ``name``: ``run_process`` in its pool of ``config.PROCESS_POOLS``."""
    def run(ctx: Context) -> dict:
        return run_process(ctx, *config.PROCESS_POOLS[name])

    run.__name__ = name
    return run


def process_best(ctx: Context) -> dict:
    """The library's fastest pool on this machine (config.BEST_POOLS, found by bench/sweep.py), or the pool the
    sweep is trying: its jobs/s and which pool it was."""
    pool, concurrency = ctx.pool or config.BEST_POOLS[ctx.lib]
    return {**run_process(ctx, pool, concurrency), "pool": f"{pool} {concurrency}"}


def retries(ctx: Context) -> dict:
    """N jobs that each fail twice and then succeed, enqueued first, then one worker process started:
    N / (last successful end - first start of any run). Each job succeeds exactly once (the failing runs stamp
    nothing), and every library retries at once, with no backoff or the shortest it allows."""
    n, driver = ctx.sizes.retries, ctx.driver
    driver_class(ctx.lib).worker_argv(*config.RETRY_POOL)
    handles = [driver.dispatch_flaky({"i": i}) for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(ctx.lib, *config.RETRY_POOL, ctx.url, path) as worker:
            wait_for_stamps(path, n, ctx.sizes.timeout * 0.7, worker)
            driver.verify_retries(handles, timeout=30)
        records = stamps.read(path)
        first = flaky.first_run_start(path)  # the first run, failing ones included (bench/flaky.py)
    _check_each_once([r[0] for r in records], n)
    start = min([r[2] for r in records] + ([first] if first is not None else []))
    return {"jobs_per_s": n / (max(r[3] for r in records) - start)}


def _is_timeout(exc: BaseException) -> bool:
    return "timeout" in type(exc).__name__.lower()


def _first_round_trip(ctx: Context, worker: Worker, timeout: float = 60.0) -> None:
    """The first job also waits for the worker to come up; a dead worker ends the wait at once."""
    handle = ctx.driver.dispatch({"i": -1})
    deadline = time.monotonic() + timeout
    while True:
        try:
            ctx.driver.result(handle, timeout=1.0)
            return
        except Exception as exc:  # each library has its own timeout error
            if not _is_timeout(exc) or time.monotonic() > deadline:
                raise
            worker.check_alive()


def stores_results() -> bool:
    """Whether this configuration stores results (``BENCH_RESULTS``), i.e. a round trip exists."""
    from .appenv import STORE_RESULTS

    return STORE_RESULTS


def first_job(ctx: Context, worker: Worker, path: str) -> None:
    """Wait for the worker to be up: a first round trip, or its first stamp without results."""
    if stores_results():
        _first_round_trip(ctx, worker)
        return
    ctx.driver.dispatch({"i": -1})
    wait_for_stamps(path, 1, 60, worker)


def ms_percentiles(prefix: str, seconds: list[float]) -> dict:
    return {f"{prefix}_p{q}_ms": percentile(seconds, q) * 1000 for q in (50, 95, 99)}


BURST_OFFSET = 1_000_000  # job numbers of the unpaced pickup loop start here


def _pickup_loop(driver, count: int, rate: float | None, first: int = 0) -> None:
    """Dispatch ``count`` jobs stamped with their dispatch time, paced at ``rate`` jobs/s or unpaced."""
    start = time.perf_counter()
    for k in range(count):
        if rate:
            pause = start + k / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        driver.dispatch({"i": first + k, "t": time.time()})


def latency(ctx: Context) -> dict:
    """Round trips (one job at a time, idle worker), then pickups, paced and unpaced; one worker."""
    s, driver = ctx.sizes, ctx.driver
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(ctx.lib, *config.LATENCY_POOL, ctx.url, path) as worker:
            first_job(ctx, worker, path)
            round_trips = _round_trips(ctx) if stores_results() else []
            expected = 1 + len(round_trips) + (s.warmup - 1 if round_trips else 0) + s.pickups
            _pickup_loop(driver, s.pickups, s.pickup_rate)
            wait_for_stamps(path, expected, 60, worker)
            _pickup_loop(driver, s.pickups, None, first=BURST_OFFSET)
            wait_for_stamps(path, expected + s.pickups, 120, worker)
        records = [(i, started - dispatched) for i, dispatched, started, _e in stamps.read(path) if dispatched]
    paced = [lat for i, lat in records if i < BURST_OFFSET]
    burst = [lat for i, lat in records if i >= BURST_OFFSET]
    rt = ms_percentiles("rt", round_trips) if round_trips else reason_cells("rt", "results ignored")
    return {**rt, **ms_percentiles("pickup", paced), **ms_percentiles("burst", burst)}


def _round_trips(ctx: Context) -> list[float]:
    """Warm-up round trips, then the timed ones: dispatch, block until the result is there."""
    driver = ctx.driver
    for _ in range(ctx.sizes.warmup - 1):
        driver.result(driver.dispatch({"i": -1}), timeout=10)
    round_trips = []
    for i in range(ctx.sizes.round_trips):
        t0 = time.perf_counter()
        driver.result(driver.dispatch({"i": i}), timeout=10)
        round_trips.append(time.perf_counter() - t0)
    return round_trips


def reason_cells(prefix: str, why: str) -> dict:
    """Percentile cells that hold a reason instead of a number (the table prints it)."""
    return {f"{prefix}_p{q}_ms": why for q in (50, 95, 99)}


def _used_memory(client: redis.Redis) -> int:
    wait_clients(client)
    return int(client.info("memory")["used_memory"])


def fill(ctx: Context, n: int) -> None:
    """Enqueue n jobs in batches and exit (run in its own process by ``memory``)."""
    enqueue_untimed(ctx.driver, [{"i": i} for i in range(n)], ctx.sizes.bulk_batch)


def memory(ctx: Context) -> dict:
    """used_memory delta / N with N jobs waiting, then again once a worker has completed them.

    The jobs are enqueued by a separate process and every measurement waits until only this
    process's plain connection is left, so client-side state (connection buffers, Celery's result
    subscriptions) is not counted: only what the library stores in Redis.
    """
    n = ctx.sizes.memory
    base = _used_memory(ctx.redis)
    producer = subprocess.run(
        [sys.executable, "-m", "bench.child", "--lib", ctx.lib, "--url", ctx.url, "--fill", str(n)],
        cwd=str(REPO_ROOT), env=worker_env(ctx.url, None), capture_output=True, text=True,
        timeout=ctx.sizes.timeout / 3,
    )
    if producer.returncode != 0:
        lines = producer.stderr.strip().splitlines() or ["(no output)"]
        raise RuntimeError(f"enqueueing {n} jobs failed: {lines[-1]}")
    waiting = _used_memory(ctx.redis)
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(ctx.lib, *config.MEMORY_POOL, ctx.url, path) as worker:
            wait_for_stamps(path, n, ctx.sizes.timeout / 3, worker)
            worker.stop()  # warm shutdown: every job is acknowledged before the process exits
    done = _used_memory(ctx.redis)
    return {"waiting_bytes_per_job": (waiting - base) / n, "completed_bytes_per_job": (done - base) / n}


def calibration(ctx: Context) -> dict:
    """Raw redis-py: PING round trips, then EVALSHA of a one-line script, same client settings; then the
    bare pickup and round trip (bench/bare_pickup.py), as many and as paced as the latency loops."""
    bare = bare_pickup.measure(ctx.url, ctx.sizes.pickups, ctx.sizes.pickup_rate)
    bare_round_trips = bare_pickup.measure_round_trip(ctx.url, ctx.sizes.round_trips)
    n, client = ctx.sizes.calibration, redis.Redis.from_url(ctx.url)
    try:
        sha = client.script_load("return ARGV[1]")
        out = {}
        for name, call in (("ping", client.ping), ("evalsha", lambda: client.evalsha(sha, 0, "x"))):
            for _ in range(100):
                call()
            times = []
            t0 = time.perf_counter()
            for _ in range(n):
                t = time.perf_counter()
                call()
                times.append(time.perf_counter() - t)
            out[f"{name}_per_s"] = n / (time.perf_counter() - t0)
            out[f"{name}_p50_ms"] = percentile(times, 50) * 1000
        return {**out, **ms_percentiles("bare_pickup", bare), **ms_percentiles("bare_rt", bare_round_trips)}
    finally:
        client.close()


SCENARIOS = {
    "enqueue_single": enqueue_single,
    "enqueue_background": enqueue_background,
    "enqueue_bulk": enqueue_bulk,
    **{name: _in_pool(name) for name in config.PROCESS_POOLS},
    "process_best": process_best,
    "retries": retries,
    "latency": latency,
    "memory": memory,
    "calibration": calibration,
}


def _in_module(module: str, name: str):
    """A scenario written in its own module (bench/load.py, scale.py, ...), which imports this one: it is
    imported when the scenario runs, not here."""
    def run(ctx: Context) -> dict:
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(ctx)

    return run


SCENARIOS.update({
    "latency_load": _in_module("load", "latency_load"),
    "scale": _in_module("scale", "scale"),
    "workflows": _in_module("workflows", "workflows"),
    "delayed": _in_module("delayed", "delayed"),
})
