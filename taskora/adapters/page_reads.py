"""The board's list reads: one page of a task's jobs costs the same with ten jobs or a million.

A page's rows come from one pipelined HMGET of a few fields per job (one round trip, no payloads), and
the waiting ids from the slice of the priority zset and FIFO list the page shows, never the whole queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .core import RedisCore
from .replies import _field_values, _text


class PageReads(RedisCore):
    """Bounded, pipelined reads for the board's pages (reads change nothing: the shared client serves them)."""

    def job_rows(self, task: str, job_ids: Sequence[str], names: Sequence[str]) -> list[dict[str, Any] | None]:
        """The ``names`` fields of each job in one round trip; None for a job that is gone (no ``state``)."""
        if not job_ids:
            return []
        fields = ["state", *(n for n in names if n != "state")]
        pipe = self.client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self.keys.job(task, job_id), fields)
        rows = [_field_values(fields, values) for values in pipe.execute()]
        return [row if row["state"] is not None else None for row in rows]

    def waiting_ids(self, task: str, start: int, stop: int) -> list[str]:
        """Waiting job ids ``start..stop`` (inclusive) in claim order (see ``waiting_slice``)."""
        return waiting_slice(self.client, self.keys, task, start, stop)


def waiting_slice(client: Any, keys: Any, task: str, start: int, stop: int) -> list[str]:
    """Waiting job ids ``start..stop`` (inclusive, ``stop`` >= 0) in claim order: the zset's priorities above 0
    (negative scores), the FIFO list of priority 0 from its oldest end, then the zset's priorities below 0.
    Reads only that slice, whatever the queue's length."""
    prioritized, fifo = keys.state_set(task, "prioritized"), keys.state_set(task, "wait")
    above = int(client.zcount(prioritized, "-inf", "(0"))
    listed = int(client.llen(fifo)) if stop >= above else 0
    ids = list(client.zrange(prioritized, start, min(stop, above - 1))) if start < above else []
    first, last = max(start - above, 0), min(stop - above, listed - 1)
    if first <= last:  # the FIFO list's oldest job is its last element (LPUSH adds, a claim takes the tail)
        ids += list(client.lrange(fifo, -(last + 1), -(first + 1)))[::-1]
    if stop >= above + listed:  # past the list: the zset again, from its first rank below priority 0
        ids += list(client.zrange(prioritized, max(start, above + listed) - listed, stop - listed))
    return [_text(i) for i in ids]
