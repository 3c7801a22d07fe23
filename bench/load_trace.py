"""Where a pickup tail under steady load comes from: ``python -m bench.load_trace --lib taskora --rate 4600``.

The harness's ``latency_load`` gives percentiles; this tool also says *when* the slow pickups happened
and what the queue did meanwhile. It starts its own ``redis-server``, one worker (``--pool``, ``-c``),
sends ``--rate`` arrivals a second for ``--seconds`` from this process, and samples the task's Redis
lists every 20 ms. It prints the pickup percentiles, then each 100 ms window that held a pickup over
``--slow-ms`` (how many, the worst), then the samples where jobs queued in Redis, then where the CPU went
while the arrivals ran: how busy each CPU was, and the share of a CPU that ``redis-server``, the worker's
processes and this one (the producer) took. ``--pin`` places the processes as ``python -m bench --pin`` does
(bench/pinning.py). Written for the taskora worker's keys; the pickup and CPU figures hold for any library
the harness drives.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections import defaultdict

import redis

from taskora.adapters.keys import Keys

from . import pinning, stamps
from .load import send_arrivals
from .proc_cpu import cpu_of, tree
from .redis_server import RedisServer
from .scenarios import driver_class, start_worker
from .workers import wait_for_stamps

SAMPLE_EVERY_S = 0.02
QUEUE_KEYS = ("wait", "prioritized", "active")  # the first three of a task's queue keys (adapters/keys.py)


def _sample_queue(url: str, stop: threading.Event, into: list[tuple[float, ...]]) -> None:
    client = redis.Redis.from_url(url)
    wait, prioritized, active = Keys().queue("bench-noop")[:3]
    while not stop.is_set():
        pipe = client.pipeline(transaction=False)
        pipe.llen(wait).zcard(prioritized).llen(active)
        into.append((time.time(), *pipe.execute()))
        stop.wait(SAMPLE_EVERY_S)


def _cpu_busy() -> dict[str, tuple[int, int]]:
    """Per CPU (``cpu0``...): jiffies spent in total and idle (idle + iowait) since boot, from /proc/stat."""
    busy = {}
    with open("/proc/stat") as stat:
        for line in stat:
            name, *values = line.split()
            if name.startswith("cpu") and name != "cpu":
                counts = [int(v) for v in values]
                busy[name] = (sum(counts), counts[3] + counts[4])
    return busy


class CpuUse:
    """Where the CPU went between ``start`` and ``stop``: each CPU's busy share, and each role's share of one CPU."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self.roles = roles

    def start(self) -> None:
        self._t0, self._cpus0 = time.monotonic(), _cpu_busy()
        self._procs0 = {role: cpu_of(pids) for role, pids in self.roles.items()}

    def stop(self) -> str:
        seconds, cpus = time.monotonic() - self._t0, _cpu_busy()
        busy = ", ".join(f"{name} {1 - (cpus[name][1] - idle0) / max(1, cpus[name][0] - total0):.0%}"
                         for name, (total0, idle0) in self._cpus0.items())
        shares = ", ".join(f"{role} {self._used(role) / seconds:.0%}" for role in self.roles)
        return f"CPU while the arrivals ran ({seconds:.1f} s): busy {busy}; of one CPU: {shares}"

    def _used(self, role: str) -> float:
        """CPU seconds the role's processes used since ``start`` (a process gone by then counts 0)."""
        before = self._procs0[role]
        return sum(max(0.0, now - before[pid]) for pid, now in cpu_of(self.roles[role]).items())


def _run(args: argparse.Namespace, url: str, path: str, redis_pid: int) -> tuple[list[tuple[float, ...]], str]:
    driver, samples, stop = driver_class(args.lib)(), [], threading.Event()
    with start_worker(args.lib, args.pool, args.concurrency, url, path) as worker:
        driver.dispatch({"i": -1, "t": time.time()})  # the worker is up once this one ran
        wait_for_stamps(path, 1, 60, worker)
        sampler = threading.Thread(target=_sample_queue, args=(url, stop, samples), daemon=True)
        sampler.start()
        use = CpuUse({"redis-server": [redis_pid], "worker": tree(worker.proc.pid), "producer": [os.getpid()]})
        use.start()
        send_arrivals(driver, args.rate, args.seconds, probe=False)
        cpu = use.stop()
        stop.set()
        wait_for_stamps(path, 1 + max(1, int(args.rate * args.seconds)), 60 + args.seconds, worker)
    driver.close()
    return samples, cpu


def _report(args: argparse.Namespace, path: str, samples: list[tuple[float, ...]]) -> None:
    records = sorted((r for r in stamps.read(path) if r[0] >= 0), key=lambda r: r[1])
    pickups = sorted((started - sent) * 1000 for _i, sent, started, _end in records)
    at = lambda q: pickups[int(q * (len(pickups) - 1))]  # noqa: E731
    print(f"{args.lib} {args.pool} c={args.concurrency} at {args.rate:.0f}/s: pickup p50 {at(.5):.2f} "
          f"p90 {at(.9):.2f} p99 {at(.99):.2f} max {pickups[-1]:.1f} ms")
    first = records[0][1]
    windows: dict[float, list[float]] = defaultdict(list)
    for _i, sent, started, _end in records:
        if (started - sent) * 1000 > args.slow_ms:
            windows[round(sent - first, 1)].append((started - sent) * 1000)
    for window, slow in sorted(windows.items()):
        print(f"  {window:5.1f} s: {len(slow):4d} pickups over {args.slow_ms} ms, worst {max(slow):.1f}")
    for stamp, *sizes in samples:
        if sum(sizes) > 2 * args.concurrency:
            print(f"  {stamp - first:6.2f} s: " + ", ".join(f"{k} {v}" for k, v in zip(QUEUE_KEYS, sizes, strict=True)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load_trace", description=__doc__.splitlines()[0])
    parser.add_argument("--lib", default="taskora")
    parser.add_argument("--rate", type=float, required=True, help="arrivals per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pool", default="threads")
    parser.add_argument("-c", "--concurrency", type=int, default=10)
    parser.add_argument("--results", choices=("stored", "ignored"), default="ignored")
    parser.add_argument("--slow-ms", type=float, default=5.0, help="a pickup slower than this is listed")
    parser.add_argument("--pin", action="store_true", help="as python -m bench --pin")
    args = parser.parse_args(argv)
    if args.pin and pinning.cannot_pin():
        parser.error(pinning.cannot_pin())
    with RedisServer() as server, tempfile.TemporaryDirectory(prefix="bench-trace-") as tmp:
        os.environ["BENCH_REDIS_URL"], os.environ["BENCH_RESULTS"] = server.url, args.results
        if args.pin:
            pinning.start_pinning(server.process.pid)
        path = os.path.join(tmp, "stamps")
        samples, cpu = _run(args, server.url, path, server.process.pid)
        _report(args, path, samples)
        print(cpu)


if __name__ == "__main__":
    main()
