"""Statistics and the results tables: median of the runs with min and max, ratios to the peers.

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

from .config import BASELINE, PEERS

# (scenario, metric, label, unit, higher is better), in table order
METRICS = [
    ("enqueue_single", "jobs_per_s", "enqueue, single", "jobs/s", True),
    ("enqueue_background", "jobs_per_s", "enqueue, single, not waiting per call (to the last job in Redis)",
     "jobs/s", True),
    ("enqueue_bulk", "jobs_per_s", "enqueue, bulk (batches of 50)", "jobs/s", True),
    ("process_c1", "jobs_per_s", "process, c=1 (solo)", "jobs/s", True),
    ("process_prefork1", "jobs_per_s", "process, prefork c=1", "jobs/s", True),
    ("process_threads100", "jobs_per_s", "process, threads c=100", "jobs/s", True),
    ("process_prefork2", "jobs_per_s", "process, prefork c=2", "jobs/s", True),
    ("process_best", "jobs_per_s", "process, best on 2 cores (pools below)", "jobs/s", True),
    ("retries", "jobs_per_s", "retries: jobs failing twice, then succeeding (c=1)", "jobs/s", True),
    ("latency", "rt_p50_ms", "round trip p50", "ms", False),
    ("latency", "rt_p95_ms", "round trip p95", "ms", False),
    ("latency", "rt_p99_ms", "round trip p99", "ms", False),
    ("latency", "pickup_p50_ms", "pickup p50, paced", "ms", False),
    ("latency", "pickup_p95_ms", "pickup p95, paced", "ms", False),
    ("latency", "pickup_p99_ms", "pickup p99, paced", "ms", False),
    ("latency", "burst_p50_ms", "pickup p50, unpaced", "ms", False),
    ("latency", "burst_p95_ms", "pickup p95, unpaced", "ms", False),
    ("latency", "burst_p99_ms", "pickup p99, unpaced", "ms", False),
    ("latency_load", "load_rate", "under load: arrival rate asked", "jobs/s", None),
    ("latency_load", "load_achieved", "under load: arrival rate achieved", "jobs/s", None),
    ("latency_load", "load_pickup_p50_ms", "under load: pickup p50", "ms", False),
    ("latency_load", "load_pickup_p99_ms", "under load: pickup p99", "ms", False),
    ("latency_load", "load_rt_p50_ms", "under load: round trip p50", "ms", False),
    ("latency_load", "load_rt_p99_ms", "under load: round trip p99", "ms", False),
    ("memory", "waiting_bytes_per_job", "Redis memory per waiting job", "B", False),
    ("memory", "completed_bytes_per_job", "Redis memory per completed job", "B", False),
    ("workflows", "chain_dispatch_s", "workflows: chain of 1,000 (20), dispatch", "s", False),
    ("workflows", "chain_complete_s", "workflows: chain of 1,000 (20), completion", "s", False),
    ("workflows", "chain_bytes_per_node", "workflows: chain of 1,000 (20), Redis memory per node", "B", False),
    ("workflows", "group_dispatch_s", "workflows: group of 10,000 (100), dispatch", "s", False),
    ("workflows", "group_complete_s", "workflows: group of 10,000 (100), completion", "s", False),
    ("workflows", "group_bytes_per_node", "workflows: group of 10,000 (100), Redis memory per node", "B", False),
    ("workflows", "chord_dispatch_s", "workflows: chord of 10,000 (100) into 1, dispatch", "s", False),
    ("workflows", "chord_complete_s", "workflows: chord of 10,000 (100) into 1, completion", "s", False),
    ("workflows", "chord_bytes_per_node", "workflows: chord of 10,000 (100) into 1, Redis memory per node", "B", False),
    ("delayed", "delayed_per_s", "delayed: 100,000 (500) due at once, jobs/s from the due time", "jobs/s", True),
    ("delayed", "late_p50_ms", "delayed: lateness p50 (start − due time)", "ms", False),
    ("delayed", "late_p99_ms", "delayed: lateness p99", "ms", False),
    ("scale", "enqueue_small_per_s", "scale: enqueue, smallest backlog (1,000; --quick 200)", "jobs/s", True),
    ("scale", "enqueue_large_per_s", "scale: enqueue, largest backlog (1,000,000; --quick 2,000)", "jobs/s", True),
    ("scale", "enqueue_large_ratio", "scale: enqueue, largest ÷ smallest backlog", "×", True),
    ("scale", "bytes_max", "scale: Redis memory per waiting job, most of any step", "B", False),
    ("scale", "claim_small_per_s", "scale: claim c=1, draining the smallest backlog (median of 3)", "jobs/s", True),
    ("scale", "claim_large_per_s", "scale: claim c=1, 1,000 (100) off the largest backlog (median of 3)",
     "jobs/s", True),
    ("scale", "claim_large_ratio", "scale: claim, largest ÷ smallest backlog", "×", True),
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
# (scenario, metric, label, calibration metric): each library's median over the machine's own floor
# in the same run. Throughput over sequential EVALSHA round trips (1.00: one round trip's worth of time per
# job, the best any one-call-per-job client can do); latency over the bare LPUSH -> BLPOP rows (1.00: no
# queue work at all; the target is within 1.3).
FLOORS = [
    ("enqueue_single", "jobs_per_s", "enqueue, single ÷ EVALSHA/s", "evalsha_per_s"),
    ("process_c1", "jobs_per_s", "process, c=1 ÷ EVALSHA/s", "evalsha_per_s"),
    ("process_prefork1", "jobs_per_s", "process, prefork c=1 ÷ EVALSHA/s", "evalsha_per_s"),
    ("process_threads100", "jobs_per_s", "process, threads c=100 ÷ EVALSHA/s", "evalsha_per_s"),
    ("process_prefork2", "jobs_per_s", "process, prefork c=2 ÷ EVALSHA/s", "evalsha_per_s"),
    ("process_best", "jobs_per_s", "process, best on 2 cores ÷ EVALSHA/s", "evalsha_per_s"),
    ("latency", "rt_p50_ms", "round trip p50 ÷ bare round trip p50", "bare_rt_p50_ms"),
    ("latency", "pickup_p50_ms", "pickup p50, paced ÷ bare pickup p50", "bare_pickup_p50_ms"),
    ("latency_load", "load_pickup_p50_ms", "under load: pickup p50 ÷ bare pickup p50", "bare_pickup_p50_ms"),
    ("latency_load", "load_rt_p50_ms", "under load: round trip p50 ÷ bare round trip p50", "bare_rt_p50_ms"),
]
PACKAGES = ("taskora", "celery", "kombu", "billiard", "dramatiq", "huey", "taskiq", "taskiq-redis", "rq", "arq",
            "redis", "hiredis", "matplotlib")


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
    if unit == "s":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if unit == "×":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def _cell(stats: dict | None, unit: str, note: str | None, failed: bool, runs: int) -> str:
    if stats is None:
        return "error" if failed else f"*{note}*" if note else "–"
    text = _fmt(stats["median"], unit)
    if stats["n"] > 1:
        text += f" ({_fmt(stats['min'], unit)}–{_fmt(stats['max'], unit)})"
    if stats["n"] < runs:
        text += f" [{stats['n']} of {runs} runs]"
    return text


def _runs(results: dict, lib: str, scenario: str) -> list[dict]:
    return results.get(lib, {}).get(scenario, [])


def values(results: dict, lib: str, scenario: str, metric: str) -> list[float]:
    """The numbers measured for one cell (a run may hold a reason string instead: not a number)."""
    return [run[metric] for run in _runs(results, lib, scenario) if isinstance(run.get(metric), (int, float))]


def note(results: dict, lib: str, scenario: str, metric: str) -> str | None:
    """Why a cell has no number: the library cannot do the scenario, or the metric does not apply."""
    for run in _runs(results, lib, scenario):
        why = run.get(metric, run.get("unsupported"))
        if isinstance(why, str):
            return why
    return None


def _ratio(stats: dict, lib: str, others: list[str], higher: bool | None) -> str:
    """``lib``'s median over the best median among ``others`` (best: highest, or lowest for ↓)."""
    mine = stats.get(lib)
    found = [stats[o]["median"] for o in others if stats.get(o) and stats[o]["median"] > 0]
    if not mine or mine["median"] <= 0 or not found or higher is None:
        return "–"  # a negative memory delta (freed below the baseline) has no meaningful ratio
    best = max(found) if higher else min(found)
    return f"{mine['median'] / best:.2f}×"


def _ratio_columns(libs: list[str]) -> list[tuple[str, str, list[str]]]:
    """(heading, library, libraries compared with): taskora ÷ best peer, then ÷ Celery."""
    cols = []
    peers = [lib for lib in libs if lib in PEERS]
    if "taskora" in libs and peers:
        cols.append(("taskora ÷ best peer", "taskora", peers))
    if BASELINE in libs:
        cols += [(f"{lib} ÷ {BASELINE}", lib, [BASELINE]) for lib in ("taskora", "compat") if lib in libs]
    return cols


def table(results: dict, errors: dict, libs: list[str], runs: int, scenarios: list[str], mode: str) -> str:
    """One results configuration's table in Markdown, with the ratio columns of _ratio_columns."""
    ratios = _ratio_columns(libs)
    head = ["scenario", "unit"] + libs + [heading for heading, _lib, _others in ratios]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for scenario, metric, label, unit, higher in METRICS:
        if scenario not in scenarios:
            continue
        stats = {lib: summarize(values(results, lib, scenario, metric)) for lib in libs}
        arrow = "" if higher is None else " ↑" if higher else " ↓"
        row = [label, unit + arrow]
        row += [_cell(stats[lib], unit, note(results, lib, scenario, metric),
                      f"{lib}/{scenario}/{mode}" in errors, runs) for lib in libs]
        row += [_ratio(stats, lib, others, higher) for _heading, lib, others in ratios]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def pools_line(results: dict, libs: list[str]) -> str | None:
    """Which pool each library ran in ``process_best`` (the ``pool`` its runs report), None when none ran."""
    pools = {lib: run["pool"] for lib in libs for run in _runs(results, lib, "process_best") if "pool" in run}
    if not pools:
        return None
    return "Best on 2 cores ran: " + ", ".join(f"{lib} `{pool}`" for lib, pool in pools.items()) + \
        " (bench/config.py `BEST_POOLS`; `hybrid N`: two processes sharing N slots)."


def calibration_table(results: dict, runs: int) -> str:
    lines = ["| calibration | unit | value |", "|---|---|---:|"]
    for scenario, metric, label, unit, higher in CALIBRATION:
        stats = summarize(values(results, "redis", scenario, metric))
        lines.append(f"| {label} | {unit}{' ↑' if higher else ' ↓'} | {_cell(stats, unit, None, False, runs)} |")
    return "\n".join(lines)


def floor_table(results: dict, libs: list[str], scenarios: list[str]) -> str | None:
    """Each library's medians as a fraction of the calibration rows of the same run (None: nothing to show)."""
    floors = {metric: summarize(values(results.get("calibration", {}), "redis", "calibration", metric))
              for _s, _m, _l, metric in FLOORS}
    lines = []
    for scenario, metric, label, floor in FLOORS:
        if scenario not in scenarios or not floors[floor] or floors[floor]["median"] <= 0:
            continue
        cells = []
        for lib in libs:
            stats = summarize(values(results, lib, scenario, metric))
            cells.append(f"{stats['median'] / floors[floor]['median']:.2f}" if stats else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if not lines:
        return None
    return "\n".join(["| scenario ÷ floor | " + " | ".join(libs) + " |", "|---|" + "---:|" * len(libs), *lines])


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


MODE_TITLES = {
    "stored": "results stored (every library keeps each job's result in Redis)",
    "ignored": "results ignored (no result written: ignore_result, keep_result=False, no result backend)",
}


def _load_rule(doc: dict) -> str:
    """At what rate latency_load ran: one rate for every library (``--load-rate``), or half of each one's own max."""
    if doc.get("load_rate"):
        return f"at {doc['load_rate']:,.0f} jobs/s for every library (`--load-rate`)"
    return "at half of that library's own max"


def _pinned_note(doc: dict) -> str:
    if not doc.get("pinned"):
        return ""
    return (f" Pinned (`--pin`): Redis and the measuring processes on CPU {doc['pinned']['load']}, every "
            f"library's workers on CPU {doc['pinned']['workers']} (bench/pinning.py).")


def _spin_note(doc: dict) -> str:
    spin = doc.get("taskora_spin")
    if spin is None:  # a report of a run before the setting existed
        return ""
    if spin["us"] == "0":
        return " taskora's and the front's dispatching processes ran without reply spinning (`TASKORA_SPIN_US=0`)."
    return (f" taskora's and the front's dispatching processes ran with `TASKORA_SPIN_US={spin['us']}` in "
            f"{', '.join(spin['scenarios'])} (no worker runs while they dispatch), without it elsewhere "
            "(bench/README.md, Settings).")


def render(doc: dict) -> str:
    """The whole report (header, a table per results configuration, calibration, errors)."""
    m = doc["machine"]
    pkgs = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    out = [
        f"## Results ({doc['mode']}, {doc['runs']} run{'s' if doc['runs'] > 1 else ''}, {doc['date']})",
        "",
        f"Machine: {m['cpus']} vCPU ({m['cpu']}), {m['system']}, Python {m['python']}; "
        f"{m['redis_server']}; {pkgs}; commit {m.get('commit') or '?'}; "
        f"load average at start {m.get('load_average', '?')}.",
        "",
        "Cells: median (min–max) over the runs; *italics*: why there is no number. ↑ higher is better, "
        "↓ lower is better; the ratio columns divide medians (taskora ÷ the best of the peers "
        f"{', '.join(PEERS)} in that row; ÷ {BASELINE}). Latency under load: "
        f"{doc.get('load_seconds', '?')} s of steady arrivals per library, {_load_rule(doc)}."
        + _pinned_note(doc) + _spin_note(doc),
    ]
    for mode in doc.get("result_modes", ["stored"]):
        results = doc["results"].get(mode, {})
        out += ["", f"### {MODE_TITLES[mode]}", "",
                table(results, doc["errors"], doc["libs"], doc["runs"], doc["scenarios"], mode)]
        pools = pools_line(results, doc["libs"])
        out += ["", pools] if pools else []
    out += ["", "### calibration", "", calibration_table(doc["results"].get("calibration", {}), doc["runs"])]
    for mode in doc.get("result_modes", ["stored"]):
        merged = {**doc["results"].get(mode, {}), "calibration": doc["results"].get("calibration", {})}
        floors = floor_table(merged, doc["libs"], doc["scenarios"])
        if floors:
            out += ["", f"### as a fraction of the calibration rows, {mode}", "", floors]
    if doc["errors"]:
        out += ["", "Errors:"] + [f"- {key}, {msg}" for key, msgs in sorted(doc["errors"].items()) for msg in msgs]
    if doc.get("skipped"):
        out += ["", "Skipped:"] + [f"- {lib}: {msg}" for lib, msg in sorted(doc["skipped"].items())]
    return "\n".join(out) + "\n"
