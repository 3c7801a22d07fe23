"""``python -m bench [--quick] [--only taskora,dramatiq,…] [--results stored,ignored] [--runs 3]``.

Starts one redis-server, checks which libraries import (a missing one is skipped with a one-line
notice), then for each run, each results configuration and each scenario runs every library in a
fresh subprocess, rotating the order of the libraries from run to run so none is always first on
a warm or cold machine. Prints the tables and saves them (Markdown, JSON and one SVG chart per
scenario) under bench/results/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import charts, config, pinning, report
from .redis_server import RedisServer
from .workers import REPO_ROOT, signal_group, worker_env

HERE = Path(__file__).resolve().parent


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 run: proves it works")
    parser.add_argument("--only", default=None,
                        help="comma-separated libraries among " + ",".join(config.LIBRARIES))
    parser.add_argument("--scenarios", default=",".join(config.SCENARIOS),
                        help="comma-separated scenarios among " + ",".join(config.SCENARIOS))
    parser.add_argument("--results", default=None,
                        help="comma-separated among stored,ignored (default both; stored with --quick)")
    parser.add_argument("--load-seconds", type=float, default=None,
                        help="duration of latency_load's steady arrivals (30 s; 1 s with --quick)")
    parser.add_argument("--load-rate", type=float, default=None,
                        help="latency_load at this many arrivals a second for every library, instead of half of "
                             "each library's own max (compares the tails at one load)")
    parser.add_argument("--runs", type=int, default=None, help="runs per scenario (3; 1 with --quick)")
    parser.add_argument("--out", default=None, help="file prefix (default bench/results/latest-<mode>)")
    parser.add_argument("--redis-server", default=None, help="redis-server binary")
    parser.add_argument("--pin", action="store_true",
                        help="workers on CPUs of their own, Redis and the load on another (bench/pinning.py)")
    args = parser.parse_args(argv)
    args.mode = "quick" if args.quick else "full"
    args.runs = args.runs or (1 if args.quick else 3)
    args.only = args.only or ",".join(config.QUICK_LIBRARIES if args.quick else config.LIBRARIES)
    args.results = args.results or ("stored" if args.quick else ",".join(config.RESULT_MODES))
    args.libs = [lib for lib in config.LIBRARIES if lib in args.only.split(",")]
    args.scenario_list = [s for s in config.SCENARIOS if s in args.scenarios.split(",")]
    args.result_modes = [m for m in config.RESULT_MODES if m in args.results.split(",")]
    unknown = set(args.only.split(",")) - set(config.LIBRARIES)
    unknown |= set(args.scenarios.split(",")) - set(config.SCENARIOS)
    unknown |= set(args.results.split(",")) - set(config.RESULT_MODES)
    if unknown or not args.libs or not args.scenario_list or not args.result_modes or args.runs < 1:
        parser.error(f"nothing to run or unknown names: {', '.join(sorted(unknown)) or '-'}")
    if args.pin and pinning.cannot_pin():
        parser.error(pinning.cannot_pin())
    if args.load_seconds is not None and args.load_seconds <= 0:
        parser.error(f"--load-seconds must be positive, got {args.load_seconds}")
    if args.load_rate is not None and args.load_rate <= 0:
        parser.error(f"--load-rate must be positive, got {args.load_rate}")
    return args


def _child(lib: str, url: str, mode: str, extra: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``bench.child``; on timeout stop its process group (its SIGTERM handler stops workers)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.child", "--lib", lib, "--url", url, "--mode", mode, *extra],
        cwd=str(REPO_ROOT), env=worker_env(url, None), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = _stop_child(proc)
        return -1, out, f"{err}\ntimed out after {timeout:.0f}s"
    except BaseException:  # Ctrl-C: the child is in its own session and would not see it
        _stop_child(proc)
        raise
    return proc.returncode, out, err


def _stop_child(proc: subprocess.Popen) -> tuple[str, str]:
    """SIGTERM the child's group (its handler stops its workers), SIGKILL it if that is not enough."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        signal_group(proc.pid, signal.SIGKILL)
        return proc.communicate()


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "(no output)"


def run_one(lib: str, scenario: str, url: str, args, extra: list[str]) -> tuple[dict | None, str | None]:
    sizes = config.QUICK if args.quick else config.FULL
    load = (args.load_seconds or sizes.load_seconds) if scenario == "latency_load" else 0
    timeout = {"scale": sizes.scale_timeout, "delayed": sizes.delayed_timeout}.get(scenario, sizes.timeout + load)
    code, out, err = _child(lib, url, args.mode, ["--scenario", scenario, *extra], timeout)
    result_lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    if code == 0 and result_lines:
        return json.loads(result_lines[-1][len("RESULT "):]), None
    return None, _last_line(err)


def _probe(libs: list[str], url: str, mode: str) -> tuple[list[str], dict]:
    usable, skipped = [], {}
    for lib in libs:
        code, _out, err = _child(lib, url, mode, ["--probe"], 60)
        if code == 0:
            usable.append(lib)
        else:
            skipped[lib] = _last_line(err)
            print(f"skipping {lib}: {skipped[lib]}", file=sys.stderr)
    return usable, skipped


def _check_apps_in_sync() -> None:
    """bench/compat_app.py must stay bench/celery_app.py with only the Celery import rewritten."""
    celery_src = (HERE / "celery_app.py").read_text().splitlines()
    compat_src = (HERE / "compat_app.py").read_text().splitlines()
    diff = [(a, b) for a, b in zip(celery_src, compat_src, strict=False) if a != b]
    expected = [("from celery import Celery", "from taskora.compat import Celery")]
    if diff != expected or len(celery_src) != len(compat_src):
        print("warning: bench/compat_app.py differs from bench/celery_app.py beyond the import",
              file=sys.stderr)


def _print_progress(run: int, args, lib: str, scenario: str, result: dict | None, error: str | None,
                    seconds: float) -> None:
    shown = error or ", ".join(f"{k}={_short(v)}" for k, v in result.items())
    print(f"[run {run + 1}/{args.runs}] {scenario:<20} {lib:<8} {seconds:5.1f}s  {shown}",
          file=sys.stderr, flush=True)


def _short(value) -> str:
    if isinstance(value, str):
        return value
    return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"


def _load_args(args, so_far: dict) -> list[str]:
    """latency_load's rate and pool: ``--load-rate`` when given, else from this run's own measurements of the
    library (if any).

    Half of the lower of its enqueue rate (one producer sends the arrivals) and its best processing
    rate, with the worker pool of that best processing scenario; without those measurements the
    scenario measures them itself.
    """
    extra = ["--load-seconds", str(args.load_seconds)] if args.load_seconds else []
    if args.load_rate:  # one load for every library, in the pool the scenario picks by itself
        return [*extra, "--rate", f"{args.load_rate:.1f}"]
    last = {scenario: runs[-1] for scenario, runs in so_far.items() if runs}
    enqueue = last.get("enqueue_single", {}).get("jobs_per_s")
    processed = {s: last[s]["jobs_per_s"] for s in config.PROCESS_POOLS
                 if isinstance(last.get(s, {}).get("jobs_per_s"), float)}
    if not isinstance(enqueue, float) or not processed:
        return extra
    best = max(processed, key=processed.get)
    pool, concurrency = config.PROCESS_POOLS[best]
    rate = 0.5 * min(enqueue, processed[best])
    return [*extra, "--rate", f"{rate:.1f}", "--pool", f"{pool}:{concurrency}"]


def _run_session(args, server, libs: list[str]) -> tuple[dict, dict]:
    """Every run, results configuration, scenario and library; the calibration once per run."""
    results: dict = {}
    errors: dict = {}
    for run in range(args.runs):
        jobs = [("stored", "redis", "calibration")]
        for mode in args.result_modes:
            for scenario in args.scenario_list:
                order = libs[run % len(libs):] + libs[:run % len(libs)] if libs else []
                jobs += [(mode, lib, scenario) for lib in order]
        for mode, lib, scenario in jobs:
            so_far = results.get(mode, {}).get(lib, {})
            extra = ["--results", mode] + (_load_args(args, so_far) if scenario == "latency_load" else [])
            t0 = time.monotonic()
            result, error = run_one(lib, scenario, server.url, args, extra)
            _print_progress(run, args, f"{lib}/{mode}"[:16], scenario, result, error, time.monotonic() - t0)
            key = "calibration" if lib == "redis" else mode
            if result is not None:
                results.setdefault(key, {}).setdefault(lib, {}).setdefault(scenario, []).append(result)
            else:
                errors.setdefault(f"{lib}/{scenario}/{key}", []).append(f"run {run + 1}: {error}")
    return results, errors


def _taskora_spin() -> dict:
    """What taskora's dispatching processes ran with, and in which scenarios (bench/appenv.py decides, per child)."""
    from .appenv import SPIN_SCENARIOS, spin_us_asked

    return {"us": spin_us_asked(), "scenarios": list(SPIN_SCENARIOS)}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # unwinds: stops the child and redis-server
    _check_apps_in_sync()
    started = datetime.datetime.now(datetime.timezone.utc)
    with RedisServer(args.redis_server) as server:
        if args.pin:
            pinning.start_pinning(server.process.pid)
        machine = report.machine_info(server.version())
        libs, skipped = _probe(args.libs, server.url, args.mode)
        results, errors = _run_session(args, server, libs)
    doc = {
        "mode": args.mode, "runs": args.runs, "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine, "libs": [lib for lib in config.LIBRARIES if lib in libs],
        "scenarios": args.scenario_list, "result_modes": args.result_modes,
        "load_seconds": args.load_seconds or (config.QUICK if args.quick else config.FULL).load_seconds,
        "load_rate": args.load_rate,
        "skipped": skipped, "results": results, "errors": errors,
        "pinned": pinning.description() if args.pin else None,
        "taskora_spin": _taskora_spin(),
    }
    text = report.render(doc)
    print(text)
    prefix = Path(args.out) if args.out else HERE / "results" / f"latest-{args.mode}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".md").write_text(text)
    prefix.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    written = charts.write_all(doc, prefix)
    print(f"charts: {', '.join(str(p) for p in written) or 'none (matplotlib not installed)'}",
          file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
