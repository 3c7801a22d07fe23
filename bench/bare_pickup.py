"""The pickup floor of this machine: how long one value takes from a plain redis-py ``LPUSH`` in one
process to a plain ``BLPOP`` in another, paced like the pickup loop.

No queue does less for a job that arrives at an idle worker: a producer's write, Redis waking a
blocked client, and a consumer process waking to the reply. On a virtual machine, waking idle
processes costs several round trips' worth of time, so this row says how much of a queue's pickup
latency is the machine's and how much is the queue's own work (scripts, decoding, dispatching).

Run as ``python -m bench.bare_pickup URL KEY N``: the consumer side, which prints ``ready``, then one
latency in seconds per line.
"""

from __future__ import annotations

import subprocess
import sys
import time

import redis


def consume(url: str, key: str, count: int) -> None:
    client = redis.Redis.from_url(url)
    client.ping()
    print("ready", flush=True)
    latencies = []
    for _ in range(count):
        _key, value = client.blpop([key])
        latencies.append(time.time() - float(value))
    print("\n".join(repr(lat) for lat in latencies), flush=True)


def measure(url: str, count: int, rate: float) -> list[float]:
    """Push ``count`` time stamps at ``rate`` per second to a consumer process; the latencies it saw."""
    key = "bench:bare-pickup"
    client = redis.Redis.from_url(url)
    client.delete(key)
    consumer = subprocess.Popen([sys.executable, "-m", "bench.bare_pickup", url, key, str(count)],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert consumer.stdout is not None
        if consumer.stdout.readline().strip() != "ready":
            raise RuntimeError("the bare pickup consumer did not start")
        start = time.perf_counter()
        for k in range(count):
            pause = start + k / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            client.lpush(key, repr(time.time()))
        out, _err = consumer.communicate(timeout=60)
    finally:
        if consumer.poll() is None:
            consumer.kill()
        client.delete(key)
        client.close()
    return [float(line) for line in out.split()]


if __name__ == "__main__":
    consume(sys.argv[1], sys.argv[2], int(sys.argv[3]))
