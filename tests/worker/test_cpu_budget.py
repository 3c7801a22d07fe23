"""The CPU budget behind ``-c auto`` (taskora/sysinfo.py), read from cgroup trees laid out in a temporary
directory: v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``/``cpu.cfs_period_us``, ancestors, unlimited quotas."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from taskora.sysinfo import available_cpu_count, cgroup_cpu_quota, cgroup_quota, cpu_budget, is_auto_concurrency


def _write(base: Path, rel: str, **files: str) -> None:
    directory = base / rel
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name.replace("_dot_", ".")).write_text(text + "\n")


def _proc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "proc_self_cgroup"
    path.write_text(text)
    return path


def test_v2_quota_is_the_smallest_on_the_path_to_the_root(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    _write(root, "", cpu_dot_max="max 100000")
    _write(root, "kubepods", cpu_dot_max="250000 100000")  # 2.5 CPUs for the pod
    _write(root, "kubepods/app", cpu_dot_max="max 100000")  # the container itself: no quota of its own
    proc = _proc(tmp_path, "0::/kubepods/app\n")
    assert cgroup_cpu_quota(root=root, proc_cgroup=proc) == 2.5
    assert cgroup_quota(root=root, proc_cgroup=proc).source == "cgroup v2 cpu.max"  # type: ignore[union-attr]
    _write(root, "kubepods/app", cpu_dot_max="50000 100000")
    assert cgroup_cpu_quota(root=root, proc_cgroup=proc) == 0.5


def test_v1_cfs_quota_under_a_combined_cpu_cpuacct_mount(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    _write(root, "cpu,cpuacct/docker/abc", cpu_dot_cfs_quota_us="150000", cpu_dot_cfs_period_us="100000")
    _write(root, "cpu,cpuacct", cpu_dot_cfs_quota_us="-1", cpu_dot_cfs_period_us="100000")
    proc = _proc(tmp_path, "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n")
    found = cgroup_quota(root=root, proc_cgroup=proc)
    assert found is not None and found.cpus == 1.5 and found.source == "cgroup v1 cfs quota"


def test_no_quota_anywhere_leaves_the_affinity_count(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    _write(root, "", cpu_dot_max="max 100000")
    _write(root, "cpu", cpu_dot_cfs_quota_us="-1", cpu_dot_cfs_period_us="100000")
    proc = _proc(tmp_path, "0::/\n1:cpu:/\n")
    assert cgroup_cpu_quota(root=root, proc_cgroup=proc) is None
    budget = cpu_budget(root=root, proc_cgroup=proc)
    assert budget.count == budget.available == available_cpu_count()
    assert (budget.quota, budget.source) == (None, "affinity")


def test_an_unreadable_proc_cgroup_reads_the_root_cgroup(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    _write(root, "", cpu_dot_max="100000 100000")
    assert cgroup_cpu_quota(root=root, proc_cgroup=tmp_path / "missing") == 1.0


def test_budget_rounds_a_fractional_quota_up_and_never_passes_the_cpus(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    proc = _proc(tmp_path, "0::/box\n")
    _write(root, "box", cpu_dot_max="50000 100000")
    half = cpu_budget(root=root, proc_cgroup=proc)
    assert (half.count, half.quota) == (1, 0.5)
    assert half.source == ("cgroup v2 cpu.max" if half.available > 1 else "affinity")
    _write(root, "box", cpu_dot_max=f"{(available_cpu_count() + 3) * 100000} 100000")
    roomy = cpu_budget(root=root, proc_cgroup=proc)
    assert roomy.count == roomy.available and roomy.source == "affinity"  # a quota above the CPUs caps nothing
    ignored = cpu_budget(use_cgroup_quota=False, root=root, proc_cgroup=proc)
    assert ignored.quota is None and ignored.count == ignored.available


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs an affinity mask")
def test_available_cpus_follow_the_affinity_mask() -> None:
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        assert available_cpu_count() == 1
    finally:
        os.sched_setaffinity(0, before)


def test_is_auto_concurrency() -> None:
    assert is_auto_concurrency("auto") and is_auto_concurrency(" AUTO ")
    assert not any(is_auto_concurrency(v) for v in (None, 4, "4", "automatic", b"auto"))
