"""What every benchmark app module reads from its environment, in one place.

The harness runs each library's app in several processes (the measuring child, its workers, the
memory scenario's producer); all of them must agree on the Redis URL, on whether results are
stored, and (for libraries whose concurrency is an app setting rather than a worker flag) on the
worker's concurrency. The harness sets these variables; an app module reads them at import.
"""

from __future__ import annotations

import os

from .pinning import WORKER_CPUS_ENV

URL_ENV = "BENCH_REDIS_URL"
RESULTS_ENV = "BENCH_RESULTS"  # "stored" (default) or "ignored"
CONCURRENCY_ENV = "BENCH_CONCURRENCY"  # read by apps whose concurrency is a setting (arq)
RESULT_MODES = ("stored", "ignored")

REDIS_URL = os.environ.get(URL_ENV, "redis://127.0.0.1:6379/0")

#: taskora's reply spinning (taskora/adapters/reply_spin.py) for the processes that dispatch, as a user whose
#: producers wait on Redis's replies and have a CPU to themselves would set it (bench/README.md, Settings): on in
#: the scenarios where no worker runs while they dispatch, off where the workers need every CPU of this small
#: machine (spinning there took it from them: Profiles, "Waiting for a reply without sleeping"). Workers turn it
#: off in their own processes anyway. ``TASKORA_SPIN_US=0 python -m bench ...`` measures without it.
SPIN_US = "100"
SPIN_SCENARIOS = ("enqueue_single", "enqueue_background", "enqueue_bulk", "scale")
SCENARIO_ENV = "BENCH_SCENARIO"  # set by bench/child.py for the scenario it runs


def spin_us_asked() -> str:
    """The budget the run asked for: ``TASKORA_SPIN_US`` as the caller gave it, else ``SPIN_US``; "0" under
    ``--pin``, which puts the dispatching process on Redis's own CPU, where spinning only keeps Redis waiting."""
    if os.environ.get(WORKER_CPUS_ENV):  # set for every child under --pin
        return "0"
    return os.environ.get("TASKORA_SPIN_US") or SPIN_US


def taskora_spin_us() -> str:
    """``TASKORA_SPIN_US`` for this process: the run's budget in a scenario of ``SPIN_SCENARIOS``, else "0"."""
    return spin_us_asked() if os.environ.get(SCENARIO_ENV) in SPIN_SCENARIOS else "0"


if SCENARIO_ENV in os.environ:  # a scenario's processes (bench/child.py and its workers), never the harness itself
    os.environ["TASKORA_SPIN_US"] = taskora_spin_us()


def results_mode() -> str:
    """The results configuration of this process; a wrong value is an error, not a silent default."""
    mode = os.environ.get(RESULTS_ENV, "stored")
    if mode not in RESULT_MODES:
        raise ValueError(f"{RESULTS_ENV}={mode!r}: expected one of {', '.join(RESULT_MODES)}")
    return mode


STORE_RESULTS = results_mode() == "stored"


def concurrency(default: int = 1) -> int:
    """The worker concurrency the harness asked for (apps that take it as a setting)."""
    return int(os.environ.get(CONCURRENCY_ENV, default))
