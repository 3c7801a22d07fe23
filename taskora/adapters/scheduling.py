"""The scheduler's keys (taskora:schedules, :schedules:next, :schedules:lock): leader lock, ticks, schedules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .core import RedisCore
from .replies import _text


class SchedulingOps(RedisCore):
    """Leader election and the stored schedules, each change one script (see lua/scheduler_*.lua)."""

    def scheduler_lock(self, token: str, ttl_ms: int) -> int:
        """Take or renew the leader lock: 2 taken now, 1 renewed, 0 held by another runner."""
        return int(self.scripts.scheduler_lock(self.runner, [self.keys.schedules_lock], [token, ttl_ms]))

    def scheduler_unlock(self, token: str) -> bool:
        return bool(self.scripts.scheduler_unlock(self.runner, [self.keys.schedules_lock], [token]))

    def scheduler_tick(self, token: str, records: Sequence[tuple[str, str, int, str, int]]) -> list[str] | None:
        """Record a tick (name, seen config, seen next, new config, new next); None if leadership was lost."""
        args: list[Any] = [token] + [v for record in records for v in record]
        keys = [self.keys.schedules_lock, self.keys.schedules, self.keys.schedules_next]
        reply = [_text(r) for r in self.scripts.scheduler_tick(self.runner, keys, args)]
        return None if reply[0] == "lost" else reply[1:]

    def schedule_set(self, name: str, expected: str, config: str, next_ms: int | None) -> bool:
        """Compare-and-set one schedule (see lua/scheduler_set.lua); ``config=''`` deletes it."""
        self.ensure_handshake()
        keys = [self.keys.schedules, self.keys.schedules_next]
        args = [name, expected, config, "" if next_ms is None else next_ms]
        return bool(self.scripts.scheduler_set(self.runner, keys, args))

    def schedules_due(self, now_ms: int, limit: int) -> list[str]:
        """Names of schedules whose next run is at or before ``now_ms``, earliest first."""
        names = self.client.zrangebyscore(self.keys.schedules_next, "-inf", now_ms, start=0, num=limit)
        return [_text(n) for n in names]

    def schedules_earliest(self) -> int | None:
        """The earliest next run among active schedules (epoch ms), or None when none is scheduled."""
        head = self.client.zrange(self.keys.schedules_next, 0, 0, withscores=True)
        return int(head[0][1]) if head else None

    def schedules_read(self, names: Sequence[str] | None = None) -> dict[str, tuple[str, int | None]]:
        """Stored schedules (all, or the given names) as name -> (config JSON, next run ms or None)."""
        pipe = self.client.pipeline(transaction=False)
        if names is None:
            pipe.hgetall(self.keys.schedules)
            pipe.zrange(self.keys.schedules_next, 0, -1, withscores=True)
            raw, scored = pipe.execute()
            nexts = {_text(n): int(s) for n, s in scored}
            return {_text(n): (_text(c), nexts.get(_text(n))) for n, c in raw.items()}
        if not names:
            return {}
        pipe.hmget(self.keys.schedules, list(names))
        pipe.zmscore(self.keys.schedules_next, list(names))
        configs, scores = pipe.execute()
        return {n: (_text(c), None if s is None else int(s))
                for n, c, s in zip(names, configs, scores, strict=True) if c is not None}
