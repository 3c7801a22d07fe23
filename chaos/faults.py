"""The faults: each picks a live target, kills or restarts it, and notes when each process died.

A death time lets the report measure redelivery from the moment a run was cut short, not from its start.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .processes import Fleet, RedisProcess, children

KINDS = ("kill_worker", "kill_child", "sigterm", "redis_restart")


@dataclass
class Injector:
    """Applies faults to the fleet and Redis; ``deaths`` maps a killed pid to the time it was killed."""

    fleet: Fleet
    redis: RedisProcess
    rng: random.Random
    deaths: dict[int, float] = field(default_factory=dict)
    done: list[tuple[float, str, str]] = field(default_factory=list)  # (time, kind, target)

    def inject(self, kind: str) -> None:
        """Apply one fault; one whose target is missing (no prefork child yet) kills a worker instead."""
        action: dict[str, Callable[[], str | None]] = {
            "kill_worker": self.kill_worker,
            "kill_child": self.kill_child,
            "sigterm": self.sigterm,
            "redis_restart": self.restart_redis,
        }
        target = action[kind]()
        if target is None:
            kind, target = "kill_worker", self.kill_worker()
        self.done.append((time.time(), kind, target or "-"))
        self.fleet.fill()

    def kill_worker(self) -> str | None:
        """SIGKILL a worker's whole session: the supervisor and any prefork children, at once."""
        serving = self.fleet.serving()
        if not serving:
            return None
        worker = self.rng.choice(serving)
        doomed = [worker.proc.pid, *children(worker.proc.pid)]
        now = time.time()
        try:
            os.killpg(worker.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        self.deaths.update(dict.fromkeys(doomed, now))
        worker.proc.wait(10)
        return worker.name

    def kill_child(self) -> str | None:
        """SIGKILL one prefork child; its supervisor fails the attempt it was running and forks another."""
        pools = [(w, children(w.proc.pid)) for w in self.fleet.serving("prefork")]
        pools = [(w, kids) for w, kids in pools if kids]
        if not pools:
            return None
        worker, kids = self.rng.choice(pools)
        pid = self.rng.choice(kids)
        self.deaths[pid] = time.time()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return f"{worker.name} child {pid}"

    def sigterm(self) -> str | None:
        """Warm shutdown: the worker finishes what it runs and exits; a new one starts at once beside it."""
        serving = self.fleet.serving()
        if not serving:
            return None
        worker = self.rng.choice(serving)
        worker.proc.send_signal(signal.SIGTERM)
        worker.stopping = True
        return worker.name

    def restart_redis(self) -> str:
        """SIGTERM redis-server and start it again on its port with its AOF: every job must survive."""
        self.redis.restart()
        return f"redis:{self.redis.port}"


def plan(rng: random.Random, faults: int, redis_restarts: int, window: float) -> list[tuple[float, str]]:
    """``faults`` faults at random offsets in ``(0.5, window)`` seconds, ``redis_restarts`` of them restarts."""
    restarts = min(redis_restarts, faults)
    kinds = ["redis_restart"] * restarts + rng.choices(KINDS[:3], k=faults - restarts)
    rng.shuffle(kinds)
    times = sorted(rng.uniform(0.5, max(window, 0.6)) for _ in kinds)
    return list(zip(times, kinds, strict=True))
