"""Statistics and the results table: median of the runs with min and max, ratios to Celery.

Kept free of library imports so a scenario subprocess can use ``percentile`` cheaply and the table
can be rebuilt from a saved JSON file.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
from importlib import metadata
from pathlib import Path

from .config import BASELINE

# (scenario, metric, label, unit, higher is better), in table order
METRICS = [
    ("enqueue_single", "jobs_per_s", "enqueue, single", "jobs/s", True),
    ("enqueue_bulk", "jobs_per_s", "enqueue, bulk (batches of 50)", "jobs/s", True),
    ("process_c1", "jobs_per_s", "process, c=1 (solo)", "jobs/s", True),
    ("process_threads100", "jobs_per_s", "process, threads c=100", "jobs/s", True),
    ("process_prefork2", "jobs_per_s", "process, prefork c=2", "jobs/s", True),
    ("latency", "rt_p50_ms", "round trip p50", "ms", False),
    ("latency", "rt_p95_ms", "round trip p95", "ms", False),
    ("latency", "rt_p99_ms", "round trip p99", "ms", False),
    ("latency", "pickup_p50_ms", "pickup p50, paced", "ms", False),
    ("latency", "pickup_p95_ms", "pickup p95, paced", "ms", False),
    ("latency", "pickup_p99_ms", "pickup p99, paced", "ms", False),
    ("latency", "burst_p50_ms", "pickup p50, unpaced", "ms", False),
    ("latency", "burst_p95_ms", "pickup p95, unpaced", "ms", False),
    ("latency", "burst_p99_ms", "pickup p99, unpaced", "ms", False),
    ("memory", "waiting_bytes_per_job", "Redis memory per waiting job", "B", False),
    ("memory", "completed_bytes_per_job", "Redis memory per completed job", "B", False),
]
CALIBRATION = [
    ("calibration", "ping_per_s", "redis-py PING, sequential", "ops/s", True),
    ("calibration", "ping_p50_ms", "redis-py PING p50", "ms", False),
    ("calibration", "evalsha_per_s", "EVALSHA `return ARGV[1]`, sequential", "ops/s", True),
    ("calibration", "evalsha_p50_ms", "EVALSHA p50", "ms", False),
    ("calibration", "bare_pickup_p50_ms", "bare pickup p50 (LPUSH → BLPOP, paced)", "ms", False),
    ("calibration", "bare_pickup_p99_ms", "bare pickup p99 (LPUSH → BLPOP, paced)", "ms", False),
    ("calibration", "bare_rt_p50_ms", "bare round trip p50 (LPUSH → BLPOP → LPUSH → BLPOP)", "ms", False),
    ("calibration", "bare_rt_p99_ms", "bare round trip p99", "ms", False),
]
PACKAGES = ("taskora", "celery", "kombu", "billiard", "redis", "hiredis")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile with linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _fmt(value: float, unit: str) -> str:
    if unit == "ms":
        return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return f"{value:,.0f}"


def _cell(stats: dict | None, unit: str, failed: bool, runs: int) -> str:
    if stats is None:
        return "error" if failed else "–"
    text = _fmt(stats["median"], unit)
    if stats["n"] > 1:
        text += f" ({_fmt(stats['min'], unit)}–{_fmt(stats['max'], unit)})"
    if stats["n"] < runs:
        text += f" [{stats['n']} of {runs} runs]"
    return text


def _values(results: dict, lib: str, scenario: str, metric: str) -> list[float]:
    return [run[metric] for run in results.get(lib, {}).get(scenario, []) if metric in run]


def table(results: dict, errors: dict, libs: list[str], runs: int, scenarios: list[str]) -> str:
    """The comparison table in Markdown; ratios are library ÷ Celery of the medians."""
    others = [lib for lib in libs if lib != BASELINE]
    ratio_cols = [lib for lib in others if BASELINE in libs]
    head = ["scenario", "unit"] + libs + [f"{lib} ÷ {BASELINE}" for lib in ratio_cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for scenario, metric, label, unit, higher in METRICS:
        if scenario not in scenarios:
            continue
        stats = {lib: summarize(_values(results, lib, scenario, metric)) for lib in libs}
        row = [label, unit + (" ↑" if higher else " ↓")]
        row += [_cell(stats[lib], unit, f"{lib}/{scenario}" in errors, runs) for lib in libs]
        base = stats.get(BASELINE)
        for lib in ratio_cols:
            ok = stats[lib] and base and base["median"]
            row.append(f"{stats[lib]['median'] / base['median']:.2f}×" if ok else "–")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def calibration_table(results: dict, runs: int) -> str:
    lines = ["| calibration | unit | value |", "|---|---|---:|"]
    for scenario, metric, label, unit, higher in CALIBRATION:
        stats = summarize(_values(results, "redis", scenario, metric))
        lines.append(f"| {label} | {unit}{' ↑' if higher else ' ↓'} | {_cell(stats, unit, False, runs)} |")
    return "\n".join(lines)


def machine_info(redis_version: str) -> dict:
    """What the numbers depend on: CPU, cores, Python, Redis and package versions."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cpu": cpu, "cpus": os.cpu_count(), "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "redis_server": redis_version, "packages": versions,
        "commit": _commit(), "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def _commit() -> str:
    """The repository's commit, with "+changes" when the working tree differs from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True,
                              text=True, timeout=10)
        return done.stdout.strip() if done.returncode == 0 else ""
    try:
        head = git("rev-parse", "--short", "HEAD")
        return head + ("+changes" if head and git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.TimeoutExpired):
        return ""


def render(doc: dict) -> str:
    """The whole report (header, table, calibration, errors) from the JSON document of a session."""
    m = doc["machine"]
    pkgs = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    out = [
        f"## Results ({doc['mode']}, {doc['runs']} run{'s' if doc['runs'] > 1 else ''}, {doc['date']})",
        "",
        f"Machine: {m['cpus']} vCPU ({m['cpu']}), {m['system']}, Python {m['python']}; "
        f"{m['redis_server']}; {pkgs}; commit {m.get('commit') or '?'}; "
        f"load average at start {m.get('load_average', '?')}.",
        "",
        "Cells: median (min–max) over the runs. ↑ higher is better, ↓ lower is better; "
        f"the ratio columns divide the medians by {BASELINE}'s.",
        "",
        table(doc["results"], doc["errors"], doc["libs"], doc["runs"], doc["scenarios"]),
        "",
        calibration_table(doc["results"], doc["runs"]),
    ]
    if doc["errors"]:
        out += ["", "Errors:"] + [f"- {key}, {msg}" for key, msgs in sorted(doc["errors"].items()) for msg in msgs]
    if doc.get("skipped"):
        out += ["", "Skipped:"] + [f"- {lib}: {msg}" for lib, msg in sorted(doc["skipped"].items())]
    return "\n".join(out) + "\n"
