"""Reads the tasks' event streams while the run goes on, keeping the moments jobs were handed back.

The streams are capped (about 10,000 entries per task), so a long run must read them as it goes rather
than at the end. A hand-back is a ``retrying`` (a failed attempt), a ``stalled`` (a lost worker's job put
back), a ``waiting`` with reason ``requeued``, or the final ``failed``; its time is the stream entry's id
(Redis's clock, in ms).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis

HAND_BACKS = {b"retrying", b"stalled", b"failed"}


@dataclass
class EventTap:
    """Follows each task's stream from its start; ``hand_backs[job]`` lists hand-back times (unix seconds)."""

    client: redis.Redis
    keys: list[str]
    positions: dict[str, str] = field(default_factory=dict)
    hand_backs: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def poll(self) -> None:
        """Read what is new on every stream; a Redis being restarted is read on the next poll."""
        try:
            for key in self.keys:
                self._read(key)
        except (redis.RedisError, OSError):
            pass

    def _read(self, key: str) -> None:
        while True:
            start = f"({self.positions[key]}" if key in self.positions else "-"
            entries: list[Any] = self.client.xrange(key, start, "+", count=5000) or []
            for entry_id, fields in entries:
                self._note(entry_id.decode(), fields)
            if not entries:
                return
            self.positions[key] = entries[-1][0].decode()

    def _note(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        event = fields.get(b"event")
        requeued = event == b"waiting" and fields.get(b"reason") == b"requeued"
        if event in HAND_BACKS or requeued:
            self.hand_backs[fields[b"jobId"].decode()].append(int(entry_id.split("-")[0]) / 1000)
