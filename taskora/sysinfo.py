"""How many CPUs this process may use: the size ``-c auto`` / ``worker_concurrency='auto'`` gives a pool.

``os.cpu_count()`` counts the machine. A container usually gets less: an affinity mask (``taskset``,
``--cpuset-cpus``) limits the CPUs it may run on, and a cgroup CPU quota (``docker run --cpus 1.5``,
Kubernetes ``limits.cpu``) limits the CPU time it gets. A CPU-bound pool (prefork) sized by the machine
runs more processes than it has CPU time for and is throttled; so ``auto`` takes the affinity count and,
for such a pool, caps it to the quota rounded up (a fractional quota is used fully).

The quota is read from the cgroup files: v2 ``cpu.max`` (``"<quota> <period>"`` or ``"max <period>"``),
v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (``-1``: none), at the process's own cgroup (from
``/proc/self/cgroup``) and at each ancestor, the smallest applying. ``root`` and ``proc_cgroup`` name
where those files are, so a test can give a tree of its own.
"""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

#: The value of ``-c`` / ``worker_concurrency`` that asks for the CPU budget.
AUTO_CONCURRENCY = "auto"
CGROUP_ROOT = "/sys/fs/cgroup"
PROC_SELF_CGROUP = "/proc/self/cgroup"

QuotaReader = Callable[[Path], "tuple[str, str] | None"]


class CpuBudget(NamedTuple):
    """What :func:`cpu_budget` found: the pool size, and where it came from."""

    #: The pool size to use (Celery's field name, which shadows ``tuple.count``).
    count: int  # type: ignore[assignment]
    #: CPUs this process may run on (its affinity mask, else the machine's count).
    available: int
    #: The cgroup CPU quota in CPUs; None when none applies or it was not asked for.
    quota: float | None
    #: What decided ``count``: "affinity", "cgroup v2 cpu.max" or "cgroup v1 cfs quota".
    source: str = "affinity"


class CgroupQuota(NamedTuple):
    """A cgroup CPU quota in CPUs and the interface it was read from."""

    cpus: float
    source: str


def is_auto_concurrency(value: Any) -> bool:
    """True for ``"auto"`` (any case, surrounding blanks ignored): the value that asks for the CPU budget."""
    return isinstance(value, str) and value.strip().lower() == AUTO_CONCURRENCY


def available_cpu_count() -> int:
    """CPUs this process may run on: its affinity mask where the platform has one, else the machine's count."""
    process_cpu_count = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if process_cpu_count is not None:
        return int(process_cpu_count() or os.cpu_count() or 1)
    if hasattr(os, "sched_getaffinity"):
        try:
            return len(os.sched_getaffinity(0)) or os.cpu_count() or 1
        except OSError:
            pass
    return os.cpu_count() or 1


def cpu_budget(use_cgroup_quota: bool = True, *, root: str | os.PathLike[str] = CGROUP_ROOT,
               proc_cgroup: str | os.PathLike[str] = PROC_SELF_CGROUP) -> CpuBudget:  # fmt: skip
    """The pool size for ``auto``: the available CPUs, capped (when ``use_cgroup_quota``: a CPU-bound pool)
    to the cgroup quota rounded up, and never below 1."""
    available = available_cpu_count()
    if not use_cgroup_quota:
        return CpuBudget(available, available, None)
    quota = cgroup_quota(root=root, proc_cgroup=proc_cgroup)
    if quota is None:
        return CpuBudget(available, available, None)
    capped = min(available, max(1, math.ceil(quota.cpus)))
    return CpuBudget(capped, available, quota.cpus, quota.source if capped < available else "affinity")


def cgroup_cpu_quota(*, root: str | os.PathLike[str] = CGROUP_ROOT,
                     proc_cgroup: str | os.PathLike[str] = PROC_SELF_CGROUP) -> float | None:  # fmt: skip
    """The cgroup CPU quota (in CPUs, e.g. 1.5) that applies to this process, or None when none does."""
    quota = cgroup_quota(root=root, proc_cgroup=proc_cgroup)
    return None if quota is None else quota.cpus


def cgroup_quota(*, root: str | os.PathLike[str] = CGROUP_ROOT,
                 proc_cgroup: str | os.PathLike[str] = PROC_SELF_CGROUP) -> CgroupQuota | None:  # fmt: skip
    """The smallest quota on the path from the process's cgroup to the root: v2 first, then v1 (whose
    controller is mounted as ``cpu,cpuacct`` or ``cpu``). A process whose cgroup file cannot be read is
    taken to be in the root cgroup."""
    base = Path(root)
    v2_path, v1_path, v1_mount = _own_cgroups(Path(proc_cgroup))
    if v2_path is None and v1_path is None:
        v2_path = v1_path = "/"
    if v2_path is not None:
        cpus = _smallest_quota(base, v2_path, _v2_quota)
        if cpus is not None:
            return CgroupQuota(cpus, "cgroup v2 cpu.max")
    if v1_path is not None:
        for mount in dict.fromkeys((v1_mount, "cpu")):
            cpus = _smallest_quota(base / mount, v1_path, _v1_quota)
            if cpus is not None:
                return CgroupQuota(cpus, "cgroup v1 cfs quota")
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


def _own_cgroups(proc_cgroup: Path) -> tuple[str | None, str | None, str]:
    """(v2 path, v1 cpu-controller path, v1 cpu mount name) from ``/proc/self/cgroup``'s
    ``hierarchy:controllers:path`` lines (v2 is hierarchy 0 with no controllers)."""
    v2_path: str | None = None
    v1_path: str | None = None
    v1_mount = "cpu"
    for line in (_read(proc_cgroup) or "").splitlines():
        hierarchy, sep, rest = line.partition(":")
        controllers, sep2, path = rest.partition(":")
        if not (sep and sep2):
            continue
        if hierarchy == "0" and not controllers:
            v2_path = path
        elif "cpu" in controllers.split(","):
            v1_path, v1_mount = path, controllers
    return v2_path, v1_path, v1_mount


def _lineage(path: str) -> list[str]:
    """``/a/b`` -> ``["a/b", "a", ""]``: the cgroup and its ancestors, relative to the mount."""
    current = posixpath.normpath("/" + path.lstrip("/"))
    lineage = [current]
    while current != "/":
        current = posixpath.dirname(current)
        lineage.append(current)
    return [p.lstrip("/") for p in lineage]


def _smallest_quota(mount: Path, cgroup: str, read: QuotaReader) -> float | None:
    found = [cpus for rel in _lineage(cgroup) if (cpus := _as_cpus(read(mount / rel))) is not None]
    return min(found) if found else None


def _as_cpus(raw: tuple[str, str] | None) -> float | None:
    """``quota / period`` in CPUs; None for no quota (v2 ``max``, v1 ``-1``) or unreadable numbers."""
    if raw is None:
        return None
    try:
        quota, period = int(raw[0]), int(raw[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _v2_quota(directory: Path) -> tuple[str, str] | None:
    parts = (_read(directory / "cpu.max") or "").split()
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _v1_quota(directory: Path) -> tuple[str, str] | None:
    quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    if quota is None or period is None:
        return None
    return quota.strip(), period.strip()
