"""Observing: the reads a metrics exporter makes on each scrape, each one round trip (or a few), none blocking.

They change nothing and never block, so a scrape cannot hold a worker up or wait on an idle stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import StreamEntries
from .reads import JobReads
from .replies import _text
from .topology import subscribers

#: Scores in the prioritized set are ``-(priority * 1e13) + enqueue ms``; the enqueue time is the rest.
_PRIORITY_STEP = 10**13
#: How many of the lowest-priority waiting jobs the oldest-waiting look covers (the ones that wait longest).
PRIORITIZED_LOOK = 1000


class ObservingOps(JobReads):
    """Non-blocking reads for metrics: stream tails, job timings, the oldest waiting job, listening workers."""

    def events_since(self, positions: Mapping[str, str], count: int) -> StreamEntries:
        """Up to ``count`` entries per stream after each given id, decoded; never blocks (no BLOCK)."""
        if not positions:
            return []
        if self.keys.cluster:  # one XREAD may only name streams of one slot
            reply = [e for s, p in positions.items() for e in (self.client.xread({s: p}, count=count) or [])]
        else:
            reply = self.client.xread(dict(positions), count=count) or []
        by_stream = reply.items() if isinstance(reply, dict) else reply
        return [(_text(stream), [(_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
                                 for entry_id, fields in entries]) for stream, entries in by_stream]

    def job_timings(self, task: str, job_ids: Sequence[str]) -> list[tuple[int | None, int | None]]:
        """``(processedOn, finishedOn)`` in epoch ms of each job (None where unset or the job is gone)."""
        pipe = self.client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self.keys.job(task, job_id), ["processedOn", "finishedOn"])
        return [(_ms(started), _ms(finished)) for started, finished in pipe.execute()]

    def oldest_waiting_ms(self, task: str) -> int | None:
        """When the longest-waiting job of ``task`` was enqueued (epoch ms), None when nothing waits.

        Exact for priority-0 jobs (the FIFO list's tail); prioritized jobs are looked at among the
        ``PRIORITIZED_LOOK`` of lowest priority, whose enqueue time their score carries."""
        pipe = self.client.pipeline(transaction=False)
        pipe.lindex(self.keys.state_set(task, "wait"), -1)
        pipe.zrange(self.keys.state_set(task, "prioritized"), -PRIORITIZED_LOOK, -1, withscores=True)
        tail, prioritized = pipe.execute()
        times = [int(score) % _PRIORITY_STEP for _member, score in prioritized]
        if tail is not None:
            enqueued = _ms(self.client.hget(self.keys.job(task, _text(tail)), "ts"))
            if enqueued is not None:
                times.append(enqueued)
        return min(times) if times else None

    def control_listeners(self) -> int:
        """How many workers listen on the control channel now (PUBSUB NUMSUB): the workers online."""
        return subscribers(self.client, self.keys.control_channel, self.keys.cluster)


def _ms(value: Any) -> int | None:
    return int(value) if value not in (None, b"", "") else None
