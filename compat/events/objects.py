"""The ``Task`` and ``Worker`` records a ``State`` keeps, updated event by event (Celery's field names)."""

from __future__ import annotations

import time
from collections import deque
from typing import Any
from weakref import WeakSet

from .. import states

#: The Celery state each task event puts a task in.
TASK_EVENT_STATES = {"sent": states.PENDING, "received": states.RECEIVED, "started": states.STARTED,
                     "succeeded": states.SUCCESS, "failed": states.FAILURE, "retried": states.RETRY,
                     "revoked": states.REVOKED, "rejected": states.REJECTED}  # fmt: skip
#: Final states: a late event of an earlier step (a ``task-started`` after ``task-succeeded``) keeps them.
READY_STATES = frozenset({states.SUCCESS, states.FAILURE, states.REVOKED, states.REJECTED})
#: How many heartbeats a worker keeps; and how many beat periods without one make it gone.
HEARTBEAT_KEEP = 4
HEARTBEAT_EXPIRE_PERIODS = 2.0


class Task:
    """One task as its events described it; attributes an event never carried stay None."""

    _fields = ("uuid", "name", "state", "received", "sent", "started", "rejected", "succeeded", "failed", "retried",
               "revoked", "args", "kwargs", "eta", "expires", "retries", "worker", "result", "exception",
               "timestamp", "runtime", "traceback", "exchange", "routing_key", "clock", "client", "root_id",
               "parent_id")  # fmt: skip
    uuid: str | None
    name: str | None
    state: str
    parent_id: str | None
    root_id: str | None
    clock: Any
    timestamp: float | None
    worker: Any

    def __init__(self, uuid: str | None = None, cluster_state: Any = None, **fields: Any) -> None:
        for name in self._fields:
            setattr(self, name, None)
        self.uuid = uuid
        self.cluster_state = cluster_state
        self.children: WeakSet[Task] = WeakSet()
        self.state = states.PENDING
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"<Task: {self.name}({self.uuid}) {self.state} clock:{self.clock}>"

    @property
    def id(self) -> str | None:
        return self.uuid

    def event(self, type_: str, timestamp: float | None = None, local_received: float | None = None,
              fields: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Apply one ``task-<type_>`` event: its fields, and its state unless a final state is already known."""
        fields = dict(fields or {})
        fields.pop("type", None)
        new_state = TASK_EVENT_STATES.get(type_)
        if new_state is not None:
            setattr(self, type_, timestamp)
            if not (self.state in READY_STATES and new_state not in READY_STATES):
                fields["state"] = new_state
        fields.pop("uuid", None)
        self.__dict__.update(fields)
        self.timestamp = timestamp if timestamp is not None else self.timestamp

    @property
    def ready(self) -> bool:
        return self.state in READY_STATES

    @property
    def parent(self) -> Task | None:
        return self._lookup(self.parent_id)

    @property
    def root(self) -> Task | None:
        return self._lookup(self.root_id)

    def _lookup(self, task_id: str | None) -> Task | None:
        tasks = getattr(self.cluster_state, "tasks", None)
        return tasks.get(task_id) if task_id and tasks is not None else None

    def info(self, fields: Any = None, extra: Any = ()) -> dict[str, Any]:
        """The task's known fields (those not None) as a dict."""
        names = list(fields or self._fields) + list(extra)
        return {name: getattr(self, name) for name in names if getattr(self, name, None) is not None}

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}


class Worker:
    """One worker as its events described it: identity, clock and recent heartbeats."""

    def __init__(self, hostname: str | None = None, pid: int | None = None, freq: float = 60, **fields: Any) -> None:
        self.hostname = hostname
        self.pid = pid
        self.freq = freq
        self.heartbeats: deque[float] = deque(maxlen=HEARTBEAT_KEEP)
        self.clock = 0
        self.active = self.processed = self.loadavg = None
        self.sw_ident = self.sw_ver = self.sw_sys = None
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        return f"<Worker: {self.hostname} ({self.status_string}) clock:{self.clock}>"

    @property
    def id(self) -> tuple[str | None, int | None]:
        return self.hostname, self.pid

    def event(self, type_: str | None, timestamp: float | None = None, local_received: float | None = None,
              fields: dict[str, Any] | None = None) -> None:  # fmt: skip
        """Apply one ``worker-<type_>`` event (``None`` for a task event seen from this worker)."""
        fields = dict(fields or {})
        for name in ("type", "timestamp", "local_received"):
            fields.pop(name, None)
        self.__dict__.update(fields)
        if type_ == "offline":
            self.heartbeats.clear()
        elif local_received is not None:
            self.heartbeats.append(local_received)

    @property
    def heartbeat_expires(self) -> float | None:
        return self.heartbeats[-1] + self.freq * HEARTBEAT_EXPIRE_PERIODS if self.heartbeats else None

    @property
    def alive(self) -> bool:
        expires = self.heartbeat_expires
        return expires is not None and time.time() < expires

    @property
    def status_string(self) -> str:
        return "ONLINE" if self.alive else "OFFLINE"
