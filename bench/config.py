"""What each mode runs: job counts per scenario, the libraries, the worker pools.

``--quick`` exists so CI can prove the harness still works in well under a minute; its numbers are
too small to quote. The full sizes keep one run of one library around half a minute on a 2-core
machine, so three runs of three libraries stay within a few minutes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    enqueue_single: int
    enqueue_bulk: int
    process: int
    round_trips: int
    pickups: int
    memory: int
    calibration: int
    retries: int
    scale_steps: tuple[int, ...]  # backlog sizes of the scale scenario (bench/scale.py)
    scale_sample: int  # dispatches timed at each step, jobs claimed at the smallest and largest
    scale_timeout: float  # bound of the scale scenario's subprocess, seconds (it fills a million jobs)
    workflow_chain: int  # nodes of the workflows scenario's chain (bench/workflows.py)
    workflow_group: int  # members of its group, and of its chord's header
    delayed: int  # jobs falling due at once in the delayed scenario (bench/delayed.py)
    delayed_timeout: float  # bound of its subprocess, seconds
    bulk_batch: int = 50
    pickup_rate: float = 200.0  # jobs per second of the paced pickup loop
    warmup: int = 20  # untimed jobs that open connections and load scripts first
    timeout: float = 240.0  # bound of one scenario subprocess, seconds
    load_seconds: float = 30.0  # duration of the steady arrivals of latency_load (--load-seconds)


QUICK = Sizes(enqueue_single=300, enqueue_bulk=1000, process=300, round_trips=50, pickups=50,
              memory=1000, calibration=1000, retries=100, scale_steps=(200, 2_000),
              scale_sample=100, scale_timeout=120.0, workflow_chain=20, workflow_group=100, delayed=500,
              delayed_timeout=60.0, timeout=60.0,
              load_seconds=1.0)
FULL = Sizes(enqueue_single=5000, enqueue_bulk=20000, process=5000, round_trips=500, pickups=1000,
             memory=10000, calibration=20000, retries=2000,
             scale_steps=(1_000, 10_000, 100_000, 1_000_000), scale_sample=1_000, scale_timeout=1800.0,
             workflow_chain=1_000, workflow_group=10_000, delayed=100_000, delayed_timeout=600.0)

# table columns, in this order; celery is the baseline of the ratio columns
LIBRARIES = ("taskora", "compat", "dramatiq", "huey", "taskiq", "rq", "arq", "celery")
PEERS = ("dramatiq", "huey", "taskiq", "rq", "arq", "celery")  # "taskora ÷ best peer" compares with these
BASELINE = "celery"
# --quick's default --only: all eight take ~6 minutes on 2 shared cores (worker start-up and shutdown
# dominate at these sizes: Taskiq, RQ and arq spend 5-20 s per scenario), past CI's ~2-minute budget;
# Huey, the quickest peer to start, keeps the peer code path (bench/lib_<peer>.py) exercised in CI.
QUICK_LIBRARIES = ("taskora", "compat", "huey", "celery")
RESULT_MODES = ("stored", "ignored")  # --results: results kept by every library, or not at all

# scenario name -> (pool, concurrency) of the worker it starts, for the process scenarios
PROCESS_POOLS = {
    "process_c1": ("solo", 1),
    "process_prefork1": ("prefork", 1),  # one slot in the pool Celery runs by default (and taskora recommends)
    "process_threads100": ("threads", 100),
    "process_prefork2": ("prefork", 2),
}
#: The pools ``python -m bench.sweep`` tries for the ``process_best`` scenario ("best on 2 cores"). ``hybrid`` is
#: two processes (one per core) sharing ``concurrency`` slots: Dramatiq's processes x threads, Taskiq's workers x
#: async tasks, arq's processes x ``max_jobs``; a library with no such pool skips it.
HYBRID_PROCESSES = 2
SWEEP_POOLS = (("prefork", 2), ("prefork", 4), ("prefork", 8), ("threads", 8), ("threads", 100), ("hybrid", 16))
#: What each library runs in ``process_best``: the pool of SWEEP_POOLS it processed the most jobs/s with, results
#: ignored, in ``python -m bench.sweep --runs 3`` on the benchmark's 2-core machine
#: (bench/results/sweep-2026-12-05.md; bench/README.md, "Best on 2 cores").
BEST_POOLS: dict[str, tuple[str, int]] = {
    "taskora": ("prefork", 4),
    "compat": ("prefork", 4),
    "dramatiq": ("prefork", 4),
    "huey": ("prefork", 8),
    "taskiq": ("hybrid", 16),
    "rq": ("prefork", 4),
    "arq": ("hybrid", 16),
    "celery": ("prefork", 2),  # 1,434 against 1,427 with prefork 4: a tie
}
LATENCY_POOL = ("threads", 10)
# one worker process, so a job's three runs are counted in one place (bench/flaky.py)
RETRY_POOL = ("solo", 1)
SCALE_POOL = ("solo", 1)
#: Times the scale scenario's claim rate is measured at each end (a fresh worker each time): the median is
#: reported, since one sample of 1,000 jobs read anywhere from 0.68 to 1.34 of itself across identical runs.
SCALE_CLAIM_RUNS = 3
WORKFLOW_POOL = ("threads", 10)
DELAYED_POOL = ("threads", 10)  # the one slot that claims at the smallest and at the largest backlog
MEMORY_POOL = ("threads", 10)

SCENARIOS = ("enqueue_single", "enqueue_background", "enqueue_bulk", *PROCESS_POOLS, "process_best", "retries",
             "latency", "latency_load",
             "memory", "workflows", "delayed", "scale")
