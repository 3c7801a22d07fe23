"""What the deduplicate script costs Redis over a plain enqueue, in figures a busy machine moves little.

Wall-clock ratios (``python -m bench.flow_control``) swing by ±20 % when other processes share the cores.
This calls the engine scripts directly with prepared arguments (no taskora client code in the loop), one
round trip each as a dispatch does, in blocks of 500 on a throw-away ``redis-server``, and reports per call
the EVALSHA time Redis measured (``INFO commandstats``) and the server's main-thread CPU time (``INFO
cpu``), as the minimum, first quartile and median over the blocks (preemption only ever adds, so the low
quantiles are the cost)::

    python -m bench.flow_script_cost               # 40 blocks of 500 calls per script
    python -m bench.flow_script_cost --blocks 80
    git archive <commit> lua | tar -x -C /tmp/before && python -m bench.flow_script_cost --before /tmp/before/lua

``--before DIR`` adds a ``deduplicate (before)`` row run from another version's ``lua/`` directory (its
scripts and ``lib/`` helpers), to compare a change of the script on the same server in the same run.

Rows: ``enqueue`` (a plain dispatch), ``enqueue + dedupKey`` (the same with the job hash field a
deduplicated job carries, so the difference to ``deduplicate`` is the key's admission alone), and
``deduplicate`` under a new key each call (every job created).
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import taskora.lua as engine

from .redis_server import RedisServer

BLOCK = 500
NOW_MS = 1_700_000_000_000
QUEUES = ("wait", "prioritized", "active", "delayed", "completed", "failed", "expired", "cancelled", "events",
          "stalled", "marker")


def _record(i: int, extra: list[str]) -> list[Any]:
    """One job record of lib/enqueue.lua: id, data, delay, priority, maxAttempts, expireAt, _v, n, fields."""
    return [f"job-{i:09d}-0000-0000-000000000000", f'{{"i": {i}}}', 0, 0, 1, 0, 1, len(extra), *extra]


def _plain(prefix: str, i: int) -> list[Any]:
    return [prefix, NOW_MS, *_record(i, [])]


def _with_field(prefix: str, i: int) -> list[Any]:
    return [prefix, NOW_MS, *_record(i, ["dedupKey", f"{prefix}dedup:k{i}"])]


def _dedup(prefix: str, i: int) -> list[Any]:
    key = f"{prefix}dedup:k{i}"
    return [prefix, NOW_MS, key, "waiting,delayed,active", *_record(i, ["dedupKey", key])]


#: Per row: the script and the ARGV of call ``i`` under a task prefix.
ROWS: dict[str, tuple[str, Callable[[str, int], list[Any]]]] = {
    "enqueue": ("enqueue", _plain),
    "enqueue + dedupKey": ("enqueue", _with_field),
    "deduplicate": ("deduplicate", _dedup),
}


def inline(lua_dir: Path, name: str) -> str:
    """Script ``name`` of ``lua_dir`` with its ``--@include lib/...`` helpers inlined once, as taskora.lua does."""
    seen: set[str] = set()

    def one(match: re.Match[str]) -> str:
        if match.group(1) in seen:
            return ""
        seen.add(match.group(1))
        return _INCLUDE.sub(one, (lua_dir / f"{match.group(1)}.lua").read_text().rstrip("\n"))

    return _INCLUDE.sub(one, (lua_dir / f"{name}.lua").read_text())


_INCLUDE = re.compile(r"^--@include (lib/[a-z_]+)\s*$", re.MULTILINE)


def _cpu_s(client: redis.Redis) -> float:
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user_main_thread"]) + float(cpu["used_cpu_sys_main_thread"])


def _block(client: redis.Redis, sha: str, prefix: str, args: Callable[[str, int], list[Any]],
           first: int) -> tuple[float, float]:  # fmt: skip
    """(EVALSHA µs, server CPU µs) per call over BLOCK calls numbered from ``first``."""
    keys = [f"{prefix}{name}" for name in QUEUES]
    client.config_resetstat()
    cpu0 = _cpu_s(client)
    for i in range(first, first + BLOCK):
        client.evalsha(sha, len(keys), *keys, *args(prefix, i))
    cpu = _cpu_s(client) - cpu0
    stats = client.info("commandstats")["cmdstat_evalsha"]
    return stats["usec"] / stats["calls"], cpu / BLOCK * 1e6


def measure(client: redis.Redis, rows: dict[str, tuple[str, Callable[[str, int], list[Any]]]],
            blocks: int) -> dict[str, list[tuple[float, float]]]:  # fmt: skip
    """Every row's blocks, taking turns (block b of every row, then b + 1...), each row under a task of its
    own: a change in the machine's load hits every row alike."""
    client.flushall()
    shas = {name: client.script_load(text) for name, (text, _args) in rows.items()}
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for b in range(blocks):
        for n, (name, (_text, args)) in enumerate(rows.items()):
            out[name].append(_block(client, shas[name], f"taskora:{{bench-flow-{n}}}:", args, b * BLOCK))
    return out


def _quantiles(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[0]:6.2f} {ordered[len(ordered) // 4]:6.2f} {statistics.median(ordered):6.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--before", type=Path, help="another version's lua/ dir: a 'deduplicate (before)' row")
    args = parser.parse_args(argv)
    rows = {name: (engine.load(script), call_args) for name, (script, call_args) in ROWS.items()}
    if args.before:
        rows["deduplicate (before)"] = (inline(args.before, "deduplicate"), ROWS["deduplicate"][1])
    print(f"{'row':<20} {'EVALSHA µs: min    p25 median':>29} {'server CPU µs: min    p25 median':>33}")
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        try:
            for name, figures in measure(client, rows, args.blocks).items():
                evalsha, cpu = [f[0] for f in figures], [f[1] for f in figures]
                print(f"{name:<20} {_quantiles(evalsha):>29} {_quantiles(cpu):>33}")
        finally:
            client.close()


if __name__ == "__main__":
    main()
