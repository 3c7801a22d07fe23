"""bench/flow_control.py's summary: the paired ratio compares each variant's block with the plain block of
the same round, so a load that changes between rounds does not move it (the ratio of medians it moves); and
bench/flow_script_cost.py runs every row (and another version's deduplicate script) on a throw-away Redis."""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis
import taskora.lua as engine

from bench.flow_control import summary
from bench.flow_script_cost import BLOCK, ROWS, inline, measure
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def test_the_paired_ratio_holds_where_the_load_shifts_between_rounds() -> None:
    plain = [20_000.0, 20_000.0, 8_000.0, 8_000.0, 8_000.0]  # the machine got busy after round 2
    dedup = [18_000.0, 18_000.0, 18_000.0, 7_200.0, 7_200.0]  # 0.9 of plain in every round but the third
    rates = {"plain": plain, "deduplicate": dedup, "dispatch_many, plain": plain, "dispatch_many, x": plain}

    got = summary(rates)

    assert got["deduplicate"][0] == 18_000.0  # median jobs/s
    assert got["deduplicate"][0] / got["plain"][0] == 2.25  # the ratio of medians: the load shift
    assert round(got["deduplicate"][1], 6) == 0.9  # the paired ratio: the per-round median
    assert got["dispatch_many, x"][1] == 1.0  # a batch row is paired with the plain batch


def test_the_script_cost_bench_takes_turns_and_creates_every_job(tmp_path: Path) -> None:
    subprocess.run(["git", "archive", "-o", str(tmp_path / "lua.tar"), "HEAD", "lua"], cwd=ROOT, check=True)
    subprocess.run(["tar", "-xf", "lua.tar"], cwd=tmp_path, check=True)
    rows = {name: (engine.load(script), args) for name, (script, args) in ROWS.items()}
    rows["deduplicate (before)"] = (inline(tmp_path / "lua", "deduplicate"), ROWS["deduplicate"][1])
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        try:
            figures = measure(client, rows, blocks=2)
            dedup_keys = len(client.keys("taskora:{bench-flow-2}:dedup:*"))
            waiting = [client.llen(f"taskora:{{bench-flow-{n}}}:wait") for n in range(len(rows))]
        finally:
            client.close()

    assert {name: len(blocks) for name, blocks in figures.items()} == dict.fromkeys(rows, 2)
    assert all(evalsha > 0 and cpu >= 0 for blocks in figures.values() for evalsha, cpu in blocks)
    assert dedup_keys == 2 * BLOCK and waiting == [2 * BLOCK] * len(rows)  # every call created its job
