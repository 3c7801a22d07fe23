"""Celery's ``celery.utils.sysinfo``: the CPU budget behind ``-c auto``, the load average and disk usage.

The CPU budget (affinity count, capped to the cgroup CPU quota for a CPU-bound pool) is taskora's own
(``taskora.sysinfo``); the worker resolves ``-c auto`` / ``worker_concurrency='auto'`` with it.
"""

from __future__ import annotations

import math
import os
from functools import cached_property

from ...sysinfo import (
    AUTO_CONCURRENCY,
    CpuBudget,
    available_cpu_count,
    cgroup_cpu_quota,
    cpu_budget,
    is_auto_concurrency,
)

__all__ = (
    "load_average", "df",
    "AUTO_CONCURRENCY", "is_auto_concurrency", "available_cpu_count",
    "cgroup_cpu_quota", "CpuBudget", "cpu_budget",
)


def load_average() -> tuple[float, ...]:
    """The 1, 5 and 15 minute load averages, rounded up to hundredths (zeros where the OS has none)."""
    if not hasattr(os, "getloadavg"):
        return 0.0, 0.0, 0.0
    return tuple(math.ceil(value * 100) / 100 for value in os.getloadavg())


class df:  # noqa: N801 - Celery's name
    """Disk usage of the filesystem holding ``path``, in KiB (``capacity``: percent used)."""

    def __init__(self, path: str | bytes | os.PathLike[str]) -> None:
        self.path = path

    @cached_property
    def stat(self) -> os.statvfs_result:
        return os.statvfs(os.path.abspath(self.path))

    @property
    def total_blocks(self) -> float:
        return self.stat.f_blocks * self.stat.f_frsize / 1024

    @property
    def available(self) -> float:
        return self.stat.f_bavail * self.stat.f_frsize / 1024

    @property
    def capacity(self) -> int:
        used = self.stat.f_blocks - self.stat.f_bfree
        total = used + self.stat.f_bavail
        return math.ceil(used * 100.0 / total) if total else 0
