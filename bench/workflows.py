"""The ``workflows`` scenario: a chain of 1,000, a group of 10,000 and a chord of 10,000 into one body.

Each shape is dispatched in one call with no worker running (the **dispatch time**, and Redis's memory
per node right after it), then a worker (``config.WORKFLOW_POOL``) runs it: the **completion time** is
from the first node's start to the last node's end, read from the stamps, so worker start-up is not
counted. A chain's nodes run one after the other (each needs the previous result), so its completion
time is its per-node hand-off times 1,000; a group's is throughput; a chord's adds the fan-in.

A workflow passes results between its nodes, so the node task keeps results in both configurations.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from . import config, stamps
from .scenarios import Context, driver_class, start_worker
from .unsupported import Unsupported
from .workers import wait_for_stamps

SHAPES = ("chain", "group", "chord")


def workflows(ctx: Context) -> dict:
    driver_class(ctx.lib).worker_argv(*config.WORKFLOW_POOL)  # Unsupported before any set-up
    out: dict = {}
    for shape in SHAPES:
        n = ctx.sizes.workflow_chain if shape == "chain" else ctx.sizes.workflow_group
        try:
            out.update(_one(ctx, shape, n))
        except Unsupported as exc:
            out.update({f"{shape}_{metric}": str(exc) for metric in ("dispatch_s", "complete_s", "bytes_per_node")})
    if all(isinstance(value, str) for value in out.values()):
        raise Unsupported(next(iter(out.values())))
    return out


def _one(ctx: Context, shape: str, n: int) -> dict:
    """Dispatch one workflow of ``shape`` on an emptied Redis, then run it; its three figures."""
    nodes = n + 1 if shape == "chord" else n
    ctx.driver.workflow(shape, 2)  # untimed: connections open and scripts loaded, neither counted per node
    ctx.redis.flushall()
    before = _used_memory(ctx)
    t0 = time.perf_counter()
    ctx.driver.workflow(shape, n)
    dispatch_s = time.perf_counter() - t0
    bytes_per_node = (_used_memory(ctx) - before) / nodes
    with tempfile.TemporaryDirectory(prefix="bench-stamps-") as tmp:
        path = str(Path(tmp) / "stamps")
        with start_worker(ctx.lib, *config.WORKFLOW_POOL, ctx.url, path) as worker:
            wait_for_stamps(path, nodes, ctx.sizes.timeout * 0.25, worker)
            ctx.driver.verify_workflow(timeout=30)
        records = stamps.read(path)
    _check_nodes(shape, [r[0] for r in records], n)
    complete_s = max(r[3] for r in records) - min(r[2] for r in records)
    return {f"{shape}_dispatch_s": dispatch_s, f"{shape}_complete_s": complete_s,
            f"{shape}_bytes_per_node": bytes_per_node}


def _check_nodes(shape: str, seen: list[int], n: int) -> None:
    """Every node ran exactly once: numbers 0..n-1, plus the chord's body (-1)."""
    expected = list(range(n)) + ([-1] if shape == "chord" else [])
    if sorted(seen) != sorted(expected):
        raise RuntimeError(f"{shape} of {n}: {len(seen)} node runs for {len(expected)} nodes")


def _used_memory(ctx: Context) -> int:
    return int(ctx.redis.info("memory")["used_memory"])
