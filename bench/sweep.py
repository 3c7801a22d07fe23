"""Which pool runs each library fastest on this machine: ``python -m bench.sweep [--only …] [--runs 3]``.

The ``process_best`` scenario ("best on 2 cores") runs every library in the pool it is fastest in, so that row
compares each library at its best instead of in a pool that suits some of them. This finds those pools: for
each library it runs ``process_best`` in every pool of ``config.SWEEP_POOLS`` (results ignored unless
``--results stored``), rotating the order from run to run, and prints each median and the winner.
``config.BEST_POOLS`` records the winners; bench/README.md ("Best on 2 cores") the run they came from.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
from pathlib import Path

from . import config, report
from .__main__ import HERE, run_one
from .redis_server import RedisServer

Pool = tuple[str, int]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(config.LIBRARIES), help="comma-separated libraries")
    parser.add_argument("--results", choices=config.RESULT_MODES, default="ignored")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves it works")
    parser.add_argument("--out", default=None, help="file prefix (default bench/results/sweep-latest)")
    args = parser.parse_args(argv)
    args.libs = [lib for lib in config.LIBRARIES if lib in args.only.split(",")]
    if not args.libs or args.runs < 1:
        parser.error("nothing to run: --only names no library, or --runs < 1")
    args.mode, args.load_seconds = ("quick" if args.quick else "full"), None  # what run_one reads besides quick
    return args


def _label(pool: Pool) -> str:
    return f"{pool[0]} {pool[1]}"


def sweep(args: argparse.Namespace, url: str) -> dict[str, dict[str, list]]:
    """lib -> pool label -> each run's jobs/s, or the reason it has none (unsupported, or the error)."""
    found: dict[str, dict[str, list]] = {lib: {_label(p): [] for p in config.SWEEP_POOLS} for lib in args.libs}
    pools = list(config.SWEEP_POOLS)
    for run in range(args.runs):
        for pool in pools[run % len(pools):] + pools[:run % len(pools)]:
            for lib in args.libs:
                extra = ["--results", args.results, "--pool", f"{pool[0]}:{pool[1]}"]
                result, error = run_one(lib, "process_best", url, args, extra)
                outcome = error or (result or {}).get("unsupported") or (result or {}).get("jobs_per_s")
                found[lib][_label(pool)].append(outcome)
                print(f"[run {run + 1}/{args.runs}] {lib:<8} {_label(pool):<12} {outcome}", file=sys.stderr,
                      flush=True)
    return found


def _median(outcomes: list) -> float | None:
    numbers = [o for o in outcomes if isinstance(o, float)]
    return statistics.median(numbers) if len(numbers) == len(outcomes) and numbers else None


def _cell(outcomes: list) -> str:
    median = _median(outcomes)
    if median is not None:
        return f"{median:,.0f}"
    reasons = [o for o in outcomes if isinstance(o, str)]
    return f"*{reasons[0][:60]}*" if reasons else "–"


def render(found: dict[str, dict[str, list]], args: argparse.Namespace, machine: dict) -> str:
    """The sweep as Markdown: a row per library, a column per pool, then the pool with the highest median."""
    labels = [_label(p) for p in config.SWEEP_POOLS]
    lines = [f"## Pool sweep ({args.mode}, results {args.results}, median of {args.runs} runs, "
             f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC})", "",
             f"Machine: {machine['cpus']} vCPU, Python {machine['python']}; {machine['redis_server']}; "
             f"commit {machine.get('commit') or '?'}. `hybrid N`: two processes sharing N slots.", "",
             "| jobs/s | " + " | ".join(labels) + " | fastest |", "|---|" + "---:|" * (len(labels) + 1)]
    for lib, by_pool in found.items():
        medians = {label: _median(runs) for label, runs in by_pool.items()}
        ranked = [label for label in labels if medians[label] is not None]
        best = max(ranked, key=lambda label: medians[label]) if ranked else "–"
        lines.append(f"| {lib} | " + " | ".join(_cell(by_pool[label]) for label in labels) + f" | {best} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with RedisServer(None) as server:
        machine = report.machine_info(server.version())
        found = sweep(args, server.url)
    text = render(found, args, machine)
    print(text)
    prefix = Path(args.out) if args.out else HERE / "results" / "sweep-latest"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".md").write_text(text)
    prefix.with_suffix(".json").write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
