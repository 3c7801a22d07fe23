"""One scenario of one library in a fresh process: ``python -m bench.child --lib L --url U ...``.

A fresh interpreter per scenario means no library keeps connections, threads, caches or imported
state from a previous scenario, and Redis is FLUSHALLed before each one. The result is printed as
the last stdout line ``RESULT <json>``. ``--probe`` only checks that the library and its app
import (exit code 3 and a one-line reason otherwise); ``--fill N`` enqueues N jobs and exits (the
memory scenario's producer).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback

from . import config
from .scenarios import SCENARIOS, Context, fill, fresh_redis, load_driver
from .unsupported import Unsupported
from .workers import stop_all_workers

EXIT_UNUSABLE = 3


def _probe(lib: str) -> int:
    try:
        driver = load_driver(lib)
    except Exception as exc:  # any failure to import or build the app means "skip"
        print(f"{type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        driver.close()
    except Exception:  # an app that never connected may refuse to close; harmless
        pass
    return 0


def _context(args: argparse.Namespace) -> Context:
    ctx = Context(args.lib, args.url, config.QUICK if args.mode == "quick" else config.FULL)
    ctx.load_rate = args.rate
    if args.pool:
        pool, concurrency = args.pool.split(":")
        ctx.pool = (pool, int(concurrency))
    if args.load_seconds:
        ctx.load_seconds = args.load_seconds
    return ctx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("--lib", required=True, choices=[*config.LIBRARIES, "redis"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=["quick", "full"], default="full")
    parser.add_argument("--results", choices=config.RESULT_MODES, default="stored")
    parser.add_argument("--rate", type=float, help="latency_load: arrivals per second")
    parser.add_argument("--pool", help="latency_load, process_best: worker pool as POOL:CONCURRENCY")
    parser.add_argument("--load-seconds", type=float, help="latency_load: duration of the arrivals")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--scenario", choices=sorted(SCENARIOS))
    action.add_argument("--probe", action="store_true")
    action.add_argument("--fill", type=int, metavar="N")
    args = parser.parse_args(argv)

    os.environ["BENCH_REDIS_URL"] = args.url  # read by the app modules at import (bench/appenv.py)
    os.environ["BENCH_RESULTS"] = args.results  # inherited by the workers this process starts
    os.environ["BENCH_SCENARIO"] = args.scenario or ""  # bench/appenv.py: whether taskora's producer spins
    if args.probe:
        return _probe(args.lib)
    signal.signal(signal.SIGTERM, stop_all_workers)  # the harness's timeout also stops our workers
    ctx = _context(args)
    try:
        if args.fill is not None:
            fill(ctx, args.fill)
            return 0
        fresh_redis(ctx.redis)
        result = SCENARIOS[args.scenario](ctx)
    except Unsupported as exc:  # the library cannot do this: a note in the cell, not an error
        result = {"unsupported": str(exc)}
    except Exception:  # reported to the harness, which records an error cell
        traceback.print_exc()
        return 1
    finally:
        stop_all_workers()
        ctx.close()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
