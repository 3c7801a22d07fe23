"""The pickup and round-trip floors of this machine: how long one value takes from a plain redis-py
``LPUSH`` in one process to a plain ``BLPOP`` in another, paced like the pickup loop; and how long
the same value takes there and back (the other process ``LPUSH``es it to a reply list the first one
``BLPOP``s), one at a time like the round-trip loop.

No queue does less for a job that arrives at an idle worker: a producer's write, Redis waking a
blocked client, and a consumer process waking to the reply. On a virtual machine, waking idle
processes costs several round trips' worth of time, so this row says how much of a queue's pickup
latency is the machine's and how much is the queue's own work (scripts, decoding, dispatching).

Run as ``python -m bench.bare_pickup URL KEY N [REPLY_KEY]``: the other process (``other_side``), which
prints ``ready``, then one latency in seconds per line; with ``REPLY_KEY`` it echoes each value there
instead.
"""

from __future__ import annotations

import subprocess
import sys
import time

import redis

from . import pinning


def other_side(url: str, key: str, count: int, reply_key: str | None) -> None:
    """Take ``count`` values off ``key``: print how late each time stamp arrived, or echo each value to
    ``reply_key``."""
    client = redis.Redis.from_url(url)
    client.ping()
    print("ready", flush=True)
    latencies = []
    for _ in range(count):
        _key, value = client.blpop([key])
        if reply_key:
            client.lpush(reply_key, value)
        else:
            latencies.append(time.time() - float(value))
    print("\n".join(repr(lat) for lat in latencies), flush=True)


def measure_round_trip(url: str, count: int) -> list[float]:
    """``count`` values there and back through an echoing process, one at a time; the times taken."""
    key, reply_key = "bench:bare-round-trip", "bench:bare-round-trip:reply"
    client = redis.Redis.from_url(url)
    client.delete(key, reply_key)
    echoer = start_consumer(url, key, count, reply_key)
    try:
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            client.lpush(key, b"x")
            client.blpop([reply_key])
            times.append(time.perf_counter() - t0)
        echoer.communicate(timeout=60)
    finally:
        _clean_up(echoer, client, key, reply_key)
    return times


def start_consumer(url: str, key: str, count: int, reply_key: str | None = None) -> subprocess.Popen:
    """The other process, once it is connected and waiting. It plays a worker, so it runs where the workers
    run: with ``--pin``, on the worker CPUs. On the load CPU, beside Redis and the producer, its wake-up would
    skip the cross-CPU one every library's worker pays, and the floor would read about half of what it is."""
    extra = [reply_key] if reply_key else []
    process = subprocess.Popen([sys.executable, "-m", "bench.bare_pickup", url, key, str(count), *extra],
                               stdout=subprocess.PIPE, text=True, preexec_fn=pinning.worker_preexec())
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("the bare pickup consumer did not start")
    return process


def _clean_up(process: subprocess.Popen, client: redis.Redis, *keys: str) -> None:
    if process.poll() is None:
        process.kill()
    client.delete(*keys)
    client.close()


def measure(url: str, count: int, rate: float) -> list[float]:
    """Push ``count`` time stamps at ``rate`` per second to a consumer process; the latencies it saw."""
    key = "bench:bare-pickup"
    client = redis.Redis.from_url(url)
    client.delete(key)
    consumer = start_consumer(url, key, count)
    try:
        start = time.perf_counter()
        for k in range(count):
            pause = start + k / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            client.lpush(key, repr(time.time()))
        out, _err = consumer.communicate(timeout=60)
    finally:
        _clean_up(consumer, client, key)
    return [float(line) for line in out.split()]


if __name__ == "__main__":
    other_side(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
