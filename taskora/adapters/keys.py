"""Every Redis key and channel taskora uses, built in one place from the wire format (version 6).

A task's keys share the hash tag ``{<task>}`` so one job's keys live in one Redis Cluster slot and a
script may touch them together.
"""

from __future__ import annotations

#: The wire format this engine writes, and the oldest one it can still read and write.
WIRE_VERSION = 6
MIN_COMPAT = 6


class Keys:
    """Key builder for one prefix (``taskora`` or ``taskora:<prefix>``)."""

    __slots__ = ("root", "cluster", "_schedules", "_queues")

    def __init__(self, prefix: str | None = None, *, cluster: bool = False) -> None:
        self.root = f"taskora:{prefix}" if prefix else "taskora"
        #: On a Redis Cluster the scheduler's keys share the hash tag ``{schedules}``, since one script
        #: (scheduler_tick) takes all three; on a single Redis they keep TypeScript's untagged names.
        self.cluster = cluster
        self._schedules = f"{self.root}:{{schedules}}" if cluster else f"{self.root}:schedules"
        self._queues: dict[str, list[str]] = {}

    # -- global keys ----------------------------------------------------------------------------
    @property
    def meta(self) -> str:
        return f"{self.root}:meta"

    @property
    def migration_lock(self) -> str:
        return f"{self.root}:migration:lock"

    @property
    def schedules(self) -> str:
        return self._schedules

    @property
    def schedules_next(self) -> str:
        return f"{self._schedules}:next"

    @property
    def schedules_lock(self) -> str:
        return f"{self._schedules}:lock"

    @property
    def control_channel(self) -> str:
        """Pub/sub channel workers listen on for remote-control requests (taskora inspect)."""
        return f"{self.root}:control"

    def control_reply(self, request_id: str) -> str:
        """List a remote-control request's replies are pushed to (one JSON entry per worker)."""
        return f"{self.root}:control:reply:{request_id}"

    def workflow(self, workflow_id: str) -> str:
        return f"{self.root}:wf:{{{workflow_id}}}"

    @property
    def workflows(self) -> str:
        """Index of workflows (zset, score = created ms), for listing; additive to wire v6."""
        return f"{self.root}:workflows"

    @property
    def workflow_deadlines(self) -> str:
        """Workflows with a ttl (zset, score = deadline ms), swept by workers; additive to wire v6."""
        return f"{self.root}:workflows:deadlines"

    def group_result(self, group_id: str) -> str:
        """A saved group's member list (string, JSON), for ``GroupResult.save/restore``; additive to wire v6."""
        return f"{self.root}:group:{{{group_id}}}"

    # -- per task ---------------------------------------------------------------------------------
    def worker_alive(self, worker_id: str) -> str:
        """A running worker's liveness key (string, PX): present while it heart-beats (additive to wire 6)."""
        return f"{self.root}:alive:{worker_id}"

    def task_prefix(self, task: str) -> str:
        """The prefix every key of ``task`` starts with; a job hash is this plus the job id."""
        return f"{self.root}:{{{task}}}:"

    def queue(self, task: str) -> list[str]:
        """The eleven queue keys every transition script takes as KEYS[1..11], in script order.

        Built once per task (every transition sends them); callers must not mutate the list.
        """
        keys = self._queues.get(task)
        if keys is None:
            keys = self._queues[task] = self._build_queue(task)
        return keys

    def _build_queue(self, task: str) -> list[str]:
        p = self.task_prefix(task)
        return [
            p + "wait", p + "prioritized", p + "active", p + "delayed",
            p + "completed", p + "failed", p + "expired", p + "cancelled",
            p + "events", p + "stalled", p + "marker",
        ]  # fmt: skip

    def state_set(self, task: str, state: str) -> str:
        return self.task_prefix(task) + state

    def events(self, task: str) -> str:
        return self.task_prefix(task) + "events"

    def marker(self, task: str) -> str:
        return self.task_prefix(task) + "marker"

    def own_wake(self, task: str, worker: str) -> str:
        """One worker's wake-up for its idle claimers of ``task`` (a sorted set, as the marker, in its slot): a
        stop or a shrink wakes that worker's own slots, which the marker's shared wakes cannot promise."""
        return self.task_prefix(task) + "wake:" + worker

    def shared_wait(self, worker: str) -> str:
        """Where one worker's shared wait (worker/shared_wait.py) is told to look again, its idle slots having changed
        while it blocked: a sorted set, as a wake key. Only on a single Redis (a cluster never shares a wait)."""
        return f"{self.root}:wait:{worker}"

    def rate_limit(self, task: str) -> str:
        """The task's limiter (hash: ``interval`` ms between starts, ``tat`` next start ms); additive to wire v6."""
        return self.task_prefix(task) + "ratelimit"

    def cancel_channel(self, task: str) -> str:
        return self.task_prefix(task) + "cancel"

    def job(self, task: str, job_id: str) -> str:
        return self.task_prefix(task) + job_id

    def lock(self, task: str, job_id: str) -> str:
        return self.job(task, job_id) + ":lock"

    def logs(self, task: str, job_id: str) -> str:
        return self.job(task, job_id) + ":logs"
