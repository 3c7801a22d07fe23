"""``--pin``: the worker under test on CPUs of its own, Redis and the load on another.

On a small machine (2 vCPUs here) the scheduler sometimes puts a library's worker on the same CPU as
Redis or as the process that sends the arrivals. For as long as that lasts the worker runs at about
half speed, jobs queue up, and the pickup percentiles measure the scheduler's placement more than
the library: taskora's pickup p99 at 4,600 arrivals/s (threads c=4) moved between 0.5 and 120 ms
from run to run unpinned, and stayed at 0.5 ms with the worker alone on its CPU.

With ``--pin`` the harness keeps Redis and every measuring process (the ones that dispatch and time)
on the first CPU this process may use, and every worker process, with its pool children and threads,
on the others. Every library is pinned the same way. The price: the workers share what is left, one
CPU on a 2-vCPU machine, so throughput measured with ``--pin`` is the throughput of that share.
"""

from __future__ import annotations

import os
from collections.abc import Callable

#: Set by the harness for its children when ``--pin`` is given; the measuring child and the worker
#: launcher read it.
PIN_ENV = "BENCH_PIN"


def _usable() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def can_pin() -> bool:
    """Pinning needs one CPU for Redis and the load and at least one more for the workers."""
    return len(_usable()) >= 2


def enabled() -> bool:
    return os.environ.get(PIN_ENV) == "1"


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
    if not enabled():
        return None
    cpus = set(map(int, os.environ[PIN_ENV + "_WORKERS"].split(",")))
    return lambda: os.sched_setaffinity(0, cpus)


def start_pinning(redis_pid: int) -> None:
    """The harness's part: Redis and this process to the load CPU (the measuring children inherit it), and the
    worker CPUs written where the worker launcher of every child reads them."""
    os.environ[PIN_ENV] = "1"
    os.environ[PIN_ENV + "_WORKERS"] = ",".join(map(str, sorted(worker_cpus())))
    pin_process(redis_pid, load_cpus())
    os.sched_setaffinity(0, load_cpus())


def description() -> dict[str, str]:
    """Which CPUs did what, for the report (called after ``start_pinning``)."""
    return {"load": ",".join(map(str, sorted(load_cpus()))), "workers": os.environ[PIN_ENV + "_WORKERS"]}
