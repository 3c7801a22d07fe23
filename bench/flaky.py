"""The failing-twice handler body of the ``retries`` scenario, shared by every library's app.

Each job of the scenario fails its first two runs and succeeds on its third, so the scenario
measures a library's retry path (fail, decide, re-queue, run again) rather than its no-op path.
The runs are counted in the worker process itself, not read from the library's own attempt
counter, so that the rule is the same for all eight libraries: the scenario runs one worker
process (``config.RETRY_POOL``), where every run of a job happens.

This module must import nothing from any task library: every library's worker imports it.
"""

from __future__ import annotations

FAILED_RUNS = 2  # runs that fail before the one that succeeds

_failures: dict[int, int] = {}


class PlannedFailure(Exception):
    """Raised on purpose by a job's first runs; every app retries exactly this error."""


def fail_first_runs(data: object) -> None:
    """Raise PlannedFailure on the first FAILED_RUNS runs of the job whose payload is ``data``."""
    i = int(data.get("i", -1)) if isinstance(data, dict) else -1
    failed = _failures.get(i, 0)
    if failed < FAILED_RUNS:
        _failures[i] = failed + 1
        raise PlannedFailure(f"planned failure {failed + 1} of {FAILED_RUNS} for job {i}")
