"""``--pin``: the worker under test on CPUs of its own, Redis and the load on another.

On a small machine (2 vCPUs here) the scheduler sometimes puts a library's worker on the same CPU as
Redis or as the process that sends the arrivals. For as long as that lasts the worker runs at about
half speed, jobs queue up, and the pickup percentiles measure the scheduler's placement more than
the library: taskora's pickup p99 at 4,600 arrivals/s (threads c=4) moved between 0.5 and 120 ms
from run to run unpinned, and stayed at 0.5 ms with the worker alone on its CPU.

With ``--pin`` the harness keeps Redis and every measuring process (the ones that dispatch and time)
on the first CPU this process may use, and every worker process, with its pool children and threads,
on the others. Every library is pinned the same way, and so is the calibration's bare consumer, which plays a
worker (bench/bare_pickup.py). The price: the workers share what is left, one
CPU on a 2-vCPU machine, so throughput measured with ``--pin`` is the throughput of that share.
"""

from __future__ import annotations

import os
from collections.abc import Callable

#: The worker CPUs (``1`` or ``1,2,3``), set by the harness for its children when ``--pin`` is given; the
#: worker launcher of every measuring child reads it. Unset: nothing is pinned.
WORKER_CPUS_ENV = "BENCH_PIN_WORKERS"


def _usable() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def cannot_pin() -> str | None:
    """Why ``--pin`` cannot work here (it needs one CPU for Redis and the load, one more for the workers)."""
    usable = len(_usable())
    return None if usable >= 2 else f"--pin needs at least 2 usable CPUs; this process may use {usable}"


def load_cpus() -> set[int]:
    return {_usable()[0]}


def worker_cpus() -> set[int]:
    return set(_usable()[1:])


def pin_process(pid: int, cpus: set[int]) -> None:
    """Pin every thread the process has now (a Linux affinity is per thread; later ones inherit it)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), cpus)


def worker_preexec() -> Callable[[], None] | None:
    """For ``Popen(preexec_fn=...)`` of a worker: the worker and its children run on the worker CPUs.

    The CPUs are chosen here, in the parent, which still sees every CPU the session may use (a
    measuring child itself runs on the load CPU only)."""
    listed = os.environ.get(WORKER_CPUS_ENV)
    if not listed:
        return None
    cpus = set(map(int, listed.split(",")))
    return lambda: os.sched_setaffinity(0, cpus)


def start_pinning(redis_pid: int) -> None:
    """The harness's part: Redis and this process to the load CPU (the measuring children inherit it), and the
    worker CPUs written where the worker launcher of every child reads them."""
    os.environ[WORKER_CPUS_ENV] = ",".join(map(str, sorted(worker_cpus())))
    pin_process(redis_pid, load_cpus())
    os.sched_setaffinity(0, load_cpus())


def description() -> dict[str, str]:
    """Which CPUs did what, for the report (called after ``start_pinning``)."""
    return {"load": ",".join(map(str, sorted(load_cpus()))), "workers": os.environ[WORKER_CPUS_ENV]}
