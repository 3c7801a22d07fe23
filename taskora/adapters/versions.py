"""Payload-version reads: how many waiting or delayed jobs of a task carry each ``_v`` (the inspector's
``migrations()``), so an operator knows when a task's ``since`` can be raised."""

from __future__ import annotations

from collections import Counter

from .reads import JobReads

#: Ids per pipelined round trip: bounded, so a long queue never builds one huge reply.
CHUNK = 1000


class VersionReads(JobReads):
    """Counts of ``_v`` over one state's jobs; a job hash without ``_v`` counts as version 1."""

    def job_versions(self, task: str, state: str) -> dict[int, int]:
        """``{version: jobs}`` over the ``state`` ("waiting" or "delayed") jobs of ``task``."""
        ids = self.list_ids(task, state)
        counts: Counter[int] = Counter()
        for start in range(0, len(ids), CHUNK):
            pipe = self.client.pipeline(transaction=False)
            for job_id in ids[start : start + CHUNK]:
                pipe.hget(self.keys.job(task, job_id), "_v")
            counts.update(_version(raw) for raw in pipe.execute())
        return dict(counts)


def _version(raw: bytes | str | None) -> int:
    if raw is None:
        return 1
    try:
        return int(raw)
    except ValueError:  # a foreign writer's garbage: counted apart rather than breaking the report
        return 0
