"""``-c auto`` / ``worker_concurrency='auto'``: size the pool from the CPU budget (taskora.sysinfo).

Only a prefork pool is CPU-bound (one process per slot), so only it is capped to the cgroup CPU quota;
a threads or asyncio pool spends its slots waiting on I/O and gets the CPUs it may run on. The worker
logs what ``auto`` became, as Celery does, so an operator sees the size chosen in a container.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from ..sysinfo import AUTO_CONCURRENCY, CpuBudget, cpu_budget, is_auto_concurrency

log = logging.getLogger("taskora.worker")

#: The pools whose slots are processes doing CPU work.
CPU_BOUND_POOLS = frozenset({"prefork"})


def parse_concurrency(ctx: click.Context | None, param: click.Parameter | None, value: Any) -> int | str | None:
    """``-c``'s callback: a whole number >= 1, or ``auto``; a usage error naming the value otherwise."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    if is_auto_concurrency(value):
        return AUTO_CONCURRENCY
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise click.BadParameter(f"expected a whole number >= 1 or 'auto', got {value!r}", ctx, param)
    return number


def app_default(app: Any) -> Any:
    """The app's own ``-c`` default as given (a Celery app's ``worker_concurrency``: a number, ``"auto"``,
    None), unchecked: :func:`taskora.worker.budget.default_concurrency` checks a number."""
    read = getattr(app, "worker_default_concurrency", None)
    return read() if callable(read) else read


def resolve_auto(pool: str) -> int:
    """The size ``auto`` gives ``pool``, logged at INFO with what decided it."""
    cpu_bound = pool in CPU_BOUND_POOLS
    budget = cpu_budget(use_cgroup_quota=cpu_bound)
    log.info("%s", describe(budget, pool, cpu_bound))
    return budget.count


def describe(budget: CpuBudget, pool: str, cpu_bound: bool) -> str:
    """Celery's wording of what ``auto`` resolved to (its log line is what operators grep for)."""
    if not cpu_bound:
        return (f"worker_concurrency='auto' only sizes the prefork pool; using available cpus={budget.count} "
                f"for pool={pool}.")
    quota = "no cgroup cpu quota found" if budget.quota is None else f"cgroup cpu quota={budget.quota:.2f}"
    return (f"worker_concurrency='auto' resolved to {budget.count} (pool={pool}, {quota}, "
            f"available cpus={budget.available}, from {budget.source}).")
