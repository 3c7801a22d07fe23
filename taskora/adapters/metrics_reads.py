"""Reads of the per-minute throughput counters the ack and fail scripts keep (``metrics:<kind>:<minute>``).

The counters are plain strings in the task's hash slot, one per minute bucket (the minute's start in epoch
ms), with a 24 h TTL, exactly as the TypeScript taskora writes them (interop recording 22), so a board
reads either language's work. One MGET per task reads a whole window.
"""

from __future__ import annotations

from .core import RedisCore

MINUTE_MS = 60_000
#: The counter kinds, in the order ``throughput`` returns them.
KINDS = ("completed", "failed")


def minute_bucket(ms: int) -> int:
    """The bucket (minute start, epoch ms) a moment in epoch ms falls in."""
    return ms - ms % MINUTE_MS


class MetricsReads(RedisCore):
    """Per-minute completed/failed counts of one task."""

    def metrics_key(self, task: str, kind: str, bucket: int) -> str:
        return f"{self.keys.task_prefix(task)}metrics:{kind}:{bucket}"

    def throughput(self, task: str, minutes: int) -> list[tuple[int, int, int]]:
        """The last ``minutes`` minute buckets of ``task``, oldest first: (minute ms, completed, failed)."""
        if minutes <= 0:
            return []
        last = minute_bucket(self.now_ms())
        buckets = [last - MINUTE_MS * back for back in range(minutes - 1, -1, -1)]
        keys = [self.metrics_key(task, kind, b) for kind in KINDS for b in buckets]
        values = [int(v) if v is not None else 0 for v in self.client.mget(keys)]
        return [(b, values[i], values[len(buckets) + i]) for i, b in enumerate(buckets)]
