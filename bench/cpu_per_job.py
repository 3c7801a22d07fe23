"""CPU seconds per 10,000 no-op jobs: a throughput figure that other load on the machine barely moves.

Wall-clock jobs/s on a shared 2-core machine swings with whatever else runs; the CPU time the worker
processes and ``redis-server`` spend on the same jobs does not (much). This runs one library's worker on
``N`` pre-enqueued jobs, as ``process_prefork2`` does, and reads user+sys time from ``/proc`` of the
worker's whole process tree and of ``redis-server`` when the first and the last handler stamp appear,
so start-up and shutdown are left out. Optionally it prints Redis's ``INFO commandstats`` per job.

    python -m bench.cpu_per_job --lib taskora --pool prefork -c 2 -n 10000 --results ignored --runs 3
    python -m bench.cpu_per_job --lib compat --pool prefork -c 2 --worker-arg=--prefetch-multiplier --worker-arg=4

Linux only (``/proc``). Numbers per run and the median; see bench/README.md "Profiles".
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis

from . import appenv, flaky, stamps
from .proc_cpu import cpu_of, cpu_seconds, tree
from .redis_server import RedisServer
from .scenarios import driver_class, enqueue_untimed, start_worker


def wait_stamps(path: str, n: int, worker, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while stamps.count(path) < n:
        worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {stamps.count(path)} of {n} jobs ran within {timeout:.0f}s")
        time.sleep(0.001)


def wait_first_run(path: str, task: str, worker) -> None:
    """Until the first job ran: its first stamp, or for ``flaky`` its first (failing) run, which stamps nothing."""
    if task != "flaky":
        wait_stamps(path, 1, worker)
        return
    while flaky.first_run_start(path) is None:
        worker.check_alive()
        time.sleep(0.001)


def one_run(lib: str, pool: str, concurrency: int, n: int, server: RedisServer, url: str, stats: bool,
            task: str = "noop", worker_args: Sequence[str] = ()) -> dict:
    client = redis.Redis.from_url(url)
    client.flushall()
    driver = driver_class(lib)()
    payloads = [{"i": i} for i in range(n)]
    if task == "flaky":  # the retries scenario's task: two failed runs before the one that stamps
        for payload in payloads:
            driver.dispatch_flaky(payload)
    else:
        enqueue_untimed(driver, payloads, 50)
    client.config_resetstat()
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(lib, pool, concurrency, url, path, worker_args) as worker:
            wait_first_run(path, task, worker)
            t0, pids = time.perf_counter(), tree(worker.proc.pid)
            before, redis_before = cpu_of(pids), cpu_seconds(server.process.pid)
            wait_stamps(path, n, worker)
            elapsed = time.perf_counter() - t0
            after, redis_after = cpu_of(pids), cpu_seconds(server.process.pid)
            commands = client.info("commandstats") if stats else {}
    driver.close()
    done = n - 1
    worker_cpu = sum(after[p] - before[p] for p in pids)
    per = 10_000 / done
    return {"jobs_per_s": done / elapsed, "worker_cpu": worker_cpu * per,
            "redis_cpu": (redis_after - redis_before) * per,
            "commands": {k: (v["calls"] / n, v["usec_per_call"]) for k, v in commands.items()}}


def _socket_args(args: argparse.Namespace, directory: str) -> tuple[str, ...]:
    """The server also listens on a unix socket in ``directory`` with ``--unix-socket``."""
    return ("--unixsocket", f"{directory}/redis.sock", "--unixsocketperm", "700") if args.unix_socket else ()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", default="taskora")
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("-c", "--concurrency", type=int, default=2)
    parser.add_argument("-n", "--jobs", type=int, default=10_000)
    parser.add_argument("--results", default="ignored", choices=["stored", "ignored"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--commandstats", action="store_true", help="print Redis calls and usec per job")
    parser.add_argument("--task", default="noop", choices=["noop", "flaky"],
                        help="flaky: the retries scenario's task (fails twice, then succeeds; use one process)")
    parser.add_argument("--unix-socket", action="store_true",
                        help="reach Redis over a unix socket instead of TCP loopback (docs/operations/performance.md)")
    parser.add_argument("--worker-arg", action="append", default=[], metavar="ARG",
                        help="one more argument for the worker's command line, repeatable "
                             "(--worker-arg=--prefetch-multiplier --worker-arg=64)")
    args = parser.parse_args()
    os.environ[appenv.RESULTS_ENV] = args.results
    with tempfile.TemporaryDirectory(prefix="bench-sock-") as tmp, \
            RedisServer(extra_args=_socket_args(args, tmp)) as server:
        url = f"unix://{tmp}/redis.sock" if args.unix_socket else server.url
        os.environ[appenv.URL_ENV] = url
        importlib.reload(appenv)  # the app modules (imported later) read both at import
        rows = [one_run(args.lib, args.pool, args.concurrency, args.jobs, server, url, args.commandstats, args.task,
                        args.worker_arg) for _ in range(args.runs)]
    for row in rows:
        print(f"{args.lib} {args.task} {args.pool} c={args.concurrency} {args.results}: "
              f"{row['jobs_per_s']:,.0f} jobs/s, "
              f"CPU s per 10k jobs: worker {row['worker_cpu']:.2f}, redis {row['redis_cpu']:.2f}")
    med = {k: statistics.median(r[k] for r in rows) for k in ("jobs_per_s", "worker_cpu", "redis_cpu")}
    print(f"median: {med['jobs_per_s']:,.0f} jobs/s, worker {med['worker_cpu']:.2f} + redis {med['redis_cpu']:.2f} "
          f"= {med['worker_cpu'] + med['redis_cpu']:.2f} CPU s per 10k jobs")
    for name, (calls, usec) in sorted(rows[-1]["commands"].items()):
        print(f"  {name}: {calls:.2f} calls/job, {usec:.1f} usec/call")


if __name__ == "__main__":
    main()
