"""The adapter contract: what the layers above ``adapters/`` may ask of a store, and the values they exchange.

``Adapter`` is a ``typing.Protocol`` (one protocol per concern, combined) derived from what the app, the
worker, the scheduler, the inspectors, workflows and the Celery front actually call. Code above ``adapters/``
types against it and never reaches into a concrete adapter's connection or scripts
(tests/package/test_import_contract.py checks that), so a store is one class that satisfies this protocol: today
``RedisAdapter`` (and the in-memory engine built on it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Part of the contract: a worker calls it as it starts (TASKORA_SPIN_US is for processes that dispatch).
from .reply_spin import stop_spinning_in_this_process as stop_spinning_in_this_process
from .topology import FAILOVER_ERRORS

if TYPE_CHECKING:
    from ..clock import Clock
    from .keys import Keys

#: Errors that mean "the store is not answering" (any adapter raises these); loops back off and try again on them.
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, *FAILOVER_ERRORS)


@dataclass
class ClaimedJob:
    """A job this worker holds: its lock token and the job hash as read at claim time."""

    task: str
    id: str
    token: str
    fields: dict[str, Any]


@dataclass
class ClaimResult:
    """What a claim (or a fused finish-and-claim) returned."""

    job: ClaimedJob | None = None
    #: When nothing was claimable: the next delayed job's due time (epoch ms), if any.
    next_due_ms: int | None = None
    #: For fused transitions: how the finished job ended ('ok', 'retrying', 'failed', 'lost').
    status: str | None = None
    #: With a job: other jobs were waiting when it was claimed.
    more: bool = False


@dataclass
class Completion:
    """One completed job for ``ack_many``: the job, its serialized result, and whether to keep it."""

    job: ClaimedJob
    result: str | bytes
    keep: bool = True


@dataclass
class BatchResult:
    """What ``ack_many`` returned: a status per completion ('ok'/'lost'), the jobs claimed, and (when it
    claimed fewer than asked) the next delayed run time, if any."""

    statuses: list[str] = field(default_factory=list)
    jobs: list[ClaimedJob] = field(default_factory=list)
    next_due_ms: int | None = None


@dataclass(slots=True)
class EnqueueRequest:
    """Everything one enqueue writes (see lua/enqueue.lua)."""

    task: str
    id: str
    data: str | bytes
    delay_ms: int = 0
    priority: int = 0
    #: None: the job stores no ``maxAttempts``; its worker reads the task's (options.UNBOUNDED_ATTEMPTS).
    max_attempts: int | None = 1
    expire_at_ms: int = 0
    version: int = 1
    fields: dict[str, str] = field(default_factory=dict)
    #: The id ``build_request`` made for this request ("" when the caller chose one). No other job can have it,
    #: so Redis answering that it exists means an earlier send of this very request got through (its reply was
    #: lost with a connection, and the request was sent again): the job was created all the same.
    minted_id: str = ""

    def created(self, reply: Any) -> bool:
        """Whether the engine's 1/0 ``reply`` for this request means its job now exists because of it."""
        return bool(reply) or (self.id == self.minted_id != "")


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a flow-controlled dispatch about 1 µs; never mutated
class FlowRequest:
    """One dispatch's flow control, already validated (taskora/flow_control.py builds it; adapters/flow.py sends it).

    ``kind`` is debounce, throttle or deduplicate; ``key`` the user's key. Throttle uses ``max`` and
    ``window_ms``; deduplicate uses ``states`` (the states in which a holder blocks a new job). A debounce
    window is the request's ``delay_ms``.
    """

    kind: str
    key: str
    max: int = 0
    window_ms: int = 0
    states: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowOutcome:
    """What a flow-controlled enqueue did: created the job or not, and the job it deferred to or replaced."""

    created: bool
    #: Why nothing was created: 'throttled', 'duplicate' or 'exists' (a job with the id exists); '' if created.
    reason: str = ""
    #: For 'duplicate': the job holding the dedup key.
    existing_id: str | None = None
    #: For a debounce: the still-delayed job this one replaced (deleted), if any.
    replaced_id: str | None = None


#: How long a finished workflow hash is kept (ms), like failed jobs by default.
KEEP_FINISHED_MS = 7 * 24 * 3600 * 1000


@dataclass
class ReadyNode:
    """A workflow node whose deps all completed: what the caller needs to build and enqueue its job."""

    index: int
    task: str
    job_id: str
    mode: str
    data: bytes
    fanin: bool
    meta: dict[str, Any]
    upstream: list[bytes]


@dataclass
class OpenNode:
    """A workflow node that had not finished when its workflow failed or was cancelled."""

    index: int
    task: str
    job_id: str
    previous: str
    #: The node takes a group's results (a chord body): Celery fails it with a ChordError.
    fanin: bool = False


class InFlightClaim(Protocol):
    """A claim sent ahead (``claim_later`` / ``ack_later``): its reply is read with ``result()``."""

    task: str
    token: str
    fused: bool

    def result(self) -> ClaimResult: ...


class InFlightBatch(Protocol):
    """An ``ack_many`` sent ahead (``ack_many_later``): its reply is read with ``result()``."""

    task: str
    token: str

    def result(self) -> BatchResult: ...


class Lifecycle(Protocol):
    """Lifecycle (adapters/core.py)."""

    def now_ms(self) -> int: ...
    def connect(self) -> None: ...
    def handshake(self) -> dict[str, Any]: ...
    def close(self) -> None: ...
    def cut_connections(self, timeout_s: float) -> None:
        """Shut every open connection down and bound later reads to ``timeout_s``: for a stopping worker
        whose Redis went silent (adapters/cutting.py)."""
        ...

    def raw_client(self) -> Any:
        """The Redis client under the store, for a front-end that exposes another library's raw key/value API
        (the Celery front's ``RedisBackend.client``); taskora itself never goes around the named operations."""
        ...


class Producing(Protocol):
    """Producing (adapters/dispatch.py)."""

    def enqueue(self, req: EnqueueRequest) -> bool: ...
    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[bool]: ...
    def enqueue_flow(self, req: EnqueueRequest, flow: FlowRequest) -> FlowOutcome: ...  # adapters/flow.py
    def flow_key(self, task: str, kind: str, key: str) -> str: ...
    def enqueue_many_deduplicated(self, requests: Sequence[EnqueueRequest],
                                  flows: Sequence[FlowRequest | None]) -> list[FlowOutcome]: ...  # adapters/flow.py


class Transitions(Protocol):
    """The worker's transitions (adapters/claiming.py, adapters/waiting.py)."""

    def claim(self, task: str, token: str, lock_ttl_ms: int) -> ClaimResult: ...
    def ack(self, job: ClaimedJob, result: str | bytes, *, keep: bool = True, next_token: str | None = None,
            lock_ttl_ms: int = 0) -> ClaimResult: ...  # fmt: skip
    def fail(self, job: ClaimedJob, error: str, *, retry_delay_ms: int | None = None, detail: str = "",
             retry_data: str | bytes | None = None, next_token: str | None = None,
             lock_ttl_ms: int = 0) -> ClaimResult: ...  # fmt: skip
    def ack_many(self, task: str, completions: Sequence[Completion], *, claim: int = 0, token: str = "",
                 lock_ttl_ms: int = 0) -> BatchResult: ...  # fmt: skip
    def ack_later(self, job: ClaimedJob, result: str | bytes, *, keep: bool, next_token: str,
                  lock_ttl_ms: int) -> InFlightClaim: ...  # fmt: skip
    def fail_later(self, job: ClaimedJob, error: str, *, retry_delay_ms: int | None, detail: str,
                   retry_data: str | bytes | None, next_token: str, lock_ttl_ms: int) -> InFlightClaim: ...  # fmt: skip
    def ack_many_later(self, task: str, completions: Sequence[Completion], *, claim: int, token: str,
                       lock_ttl_ms: int) -> InFlightBatch: ...  # fmt: skip
    def claim_later(self, task: str, token: str, lock_ttl_ms: int) -> InFlightClaim: ...
    def nack(self, task: str, job_id: str, token: str = "", *, unstarted: bool = False) -> bool: ...
    def extend_locks(self, held: Iterable[ClaimedJob], lock_ttl_ms: int) -> list[str]: ...
    def finish_cancel(self, job: ClaimedJob) -> bool: ...
    def set_progress(self, task: str, job_id: str, progress: str | bytes) -> bool: ...
    def append_log(self, task: str, job_id: str, entry: str, cap: int = 1000) -> None: ...
    def wait_then_claim(self, task: str, timeout_s: float, token: str, lock_ttl_ms: int,
                        worker: str | None = None) -> ClaimResult: ...  # fmt: skip
    def wait_for_work(self, task: str, timeout_s: float, worker: str | None = None) -> bool: ...
    def wake_workers(self, task: str, count: int, worker: str | None = None) -> None: ...
    def forget_wakes(self, tasks: list[str], worker: str) -> None: ...
    def shares_waits(self) -> bool: ...
    def wait_for_any(self, tasks: Sequence[str], timeout_s: float, worker: str) -> tuple[str, bool] | None: ...
    def wake_shared_wait(self, worker: str) -> None: ...
    def park_connection(self) -> None: ...
    def park_newer(self, job: ClaimedJob, worker_version: int, base_ms: int,
                   cap_ms: int) -> int | None: ...  # adapters/versions.py
    def claim_newer(self, task: str, token: str, lock_ttl_ms: int, worker_version: int,
                    limit: int = 100) -> ClaimResult: ...  # adapters/versions.py
    def count_parked(self, task: str, worker_version: int) -> int: ...  # adapters/versions.py


class JobReading(Protocol):
    """Job reads (adapters/reads.py)."""

    def get_job(self, task: str, job_id: str) -> dict[str, Any] | None: ...
    def get_fields(self, task: str, job_id: str, names: Sequence[str]) -> dict[str, Any]: ...
    def find_task_of(self, job_id: str, task_names: Sequence[str]) -> str | None: ...
    def get_logs(self, task: str, job_id: str) -> list[str]: ...
    def read_events(self, positions: dict[str, str], block_ms: int, count: int = 500) -> list[Any]: ...
    def stream_end_and_fields(self, task: str, job_id: str,
                              names: Sequence[str]) -> tuple[str, dict[str, Any]] | None: ...  # fmt: skip
    def next_due_ms(self, task: str) -> int | None: ...
    def last_event_id(self, task: str) -> str: ...
    def counts(self, task: str) -> dict[str, int]: ...
    def list_ids(self, task: str, state: str, start: int = 0, stop: int = -1) -> list[str]: ...
    def delayed_head(self, task: str, count: int) -> list[tuple[str, int]]: ...
    def job_versions(self, task: str, state: str) -> dict[int, int]: ...  # adapters/versions.py


class MetricsReading(Protocol):
    """Throughput counters (adapters/metrics_reads.py)."""

    def throughput(self, task: str, minutes: int) -> list[tuple[int, int, int]]: ...


class PageReading(Protocol):
    """The board's bounded list reads (adapters/page_reads.py)."""

    def job_rows(self, task: str, job_ids: Sequence[str], names: Sequence[str]) -> list[dict[str, Any] | None]: ...
    def waiting_ids(self, task: str, start: int, stop: int) -> list[str]: ...


class JobRemoving(PageReading, Protocol):
    """The board's own operations: deleting finished jobs, one or a batch by age (adapters/job_removal.py),
    and its bounded list reads (PageReading)."""

    def delete_finished(self, task: str, job_id: str) -> str | None: ...
    def clean_finished(self, task: str, state: str, before_ms: int, batch: int) -> tuple[int, int]: ...


class Controlling(Protocol):
    """Control (adapters/control.py)."""

    def cancel(self, task: str, job_id: str, reason: str = "", *, terminate: str = "") -> str: ...
    def retry_failed(self, task: str, job_ids: Sequence[str]) -> int: ...
    def purge(self, task: str) -> int: ...
    def set_rate_limit(self, task: str, interval_ms: float | None) -> None: ...
    def declare_rate_limit(self, task: str, interval_ms: float | None) -> bool: ...
    def declare_singleton(self, task: str, singleton: bool) -> None: ...  # adapters/flow.py
    def rate_limit_interval(self, task: str) -> float | None: ...
    def pubsub(self) -> Any: ...
    def mark_job_once(self, task: str, job_id: str, mark: str, ttl_s: int) -> bool: ...
    def control_publish(self, request_json: str) -> int: ...
    def control_reply(self, request_id: str, reply_json: str, ttl_s: int) -> None: ...
    def control_wait_reply(self, request_id: str, timeout_s: float) -> Any: ...
    def control_forget(self, request_id: str) -> None: ...


class Maintaining(Protocol):
    """Maintenance (adapters/maintenance.py)."""

    def stall_sweep(self, task: str, max_count: int) -> tuple[list[str], list[str]]: ...
    def reclaim(self, task: str, job_id: str, token: str, max_lost: int | None) -> str: ...
    def locks_of_active(self, task: str, chunk: int = 1000) -> list[tuple[str, str]]: ...
    def held_with(self, task: str, tokens: Iterable[str], chunk: int = 1000) -> list[str]: ...
    def mark_alive(self, worker_id: str, name: str, ttl_ms: int) -> None: ...
    def mark_all_alive(self, workers: dict[str, str], ttl_ms: int) -> None: ...
    def mark_gone(self, worker_id: str) -> None: ...
    def alive(self, worker_ids: Iterable[str]) -> set[str]: ...
    def trim(self, task: str, *, completed_age_ms: int, completed_count: int, failed_age_ms: int,
             failed_count: int, batch: int = 1000) -> int: ...  # fmt: skip


class Scheduling(Protocol):
    """Scheduler (adapters/scheduling.py)."""

    def scheduler_lock(self, token: str, ttl_ms: int) -> int: ...
    def scheduler_unlock(self, token: str) -> bool: ...
    def scheduler_tick(self, token: str,
                       records: Sequence[tuple[str, str, int, str, int]]) -> list[str] | None: ...  # fmt: skip
    def schedule_set(self, name: str, expected: str, config: str, next_ms: int | None) -> bool: ...
    def schedules_due(self, now_ms: int, limit: int) -> list[str]: ...
    def schedules_earliest(self) -> int | None: ...
    def schedules_read(self, names: Sequence[str] | None = None) -> dict[str, tuple[str, int | None]]: ...


class WorkflowStoring(Protocol):
    """Workflows and saved groups (adapters/workflows.py)."""

    def workflow_create(self, wf_id: str, fields: Mapping[str, Any], *, created_at: int, expire_at: int) -> None: ...
    def workflow_advance(self, wf_id: str, node: int, result: str | bytes, *,
                         json_results: bool = False) -> tuple[str, list[ReadyNode]]: ...  # fmt: skip
    def workflow_end(self, wf_id: str, final: str, *, node: int | None = None, error: str = "",
                     detail: str = "") -> tuple[bool, list[OpenNode]]: ...  # fmt: skip
    def workflow_settle(self, wf_id: str, items: Sequence[tuple[OpenNode, str, str, str]],
                        node_fields: dict[int, dict[str, str]] | None = None) -> list[str]: ...  # fmt: skip
    def workflow_add_node(self, wf_id: str, caller: int, task: str, job_id: str,
                          node_json: str) -> tuple[str, int | None]: ...
    def workflow_fields(self, wf_id: str, names: Sequence[str]) -> dict[str, Any]: ...
    def workflow_hash(self, wf_id: str) -> dict[str, Any]: ...
    def workflow_ids(self, start: int = 0, stop: int = -1) -> list[str]: ...
    def workflow_forget(self, wf_ids: Sequence[str]) -> None: ...
    def workflow_due_deadlines(self, limit: int = 100) -> list[str]: ...
    def workflow_drop_deadline(self, wf_id: str) -> None: ...
    def workflow_memory_usage(self, wf_id: str) -> int: ...
    def group_save(self, group_id: str, members_json: str, ttl_ms: int | None) -> None: ...
    def group_load(self, group_id: str) -> str | None: ...
    def group_delete(self, group_id: str) -> bool: ...


#: Stream entries read by ``events_since``: (stream key, [(entry id, {field: value})]) per stream.
StreamEntries = list[tuple[str, list[tuple[str, dict[str, str]]]]]


class Observing(Protocol):
    """Non-blocking reads for a metrics exporter (adapters/observing.py)."""

    def events_since(self, positions: Mapping[str, str], count: int) -> StreamEntries: ...
    def job_timings(self, task: str, job_ids: Sequence[str]) -> list[tuple[int | None, int | None]]: ...
    def oldest_waiting_ms(self, task: str) -> int | None: ...
    def control_listeners(self) -> int: ...


@dataclass(slots=True)
class CollectPush:
    """One item for a collect buffer (see lua/collect_push.lua): the job id it flushes into or arms as timer."""

    task: str
    id: str
    item: str
    key: str
    delay_ms: int
    max_size: int = 0
    max_wait_ms: int = 0
    version: int = 1
    max_attempts: int = 1


class Collecting(Protocol):
    """Collect buffers: push an item (one script), and read a buffer without changing it."""

    def collect_push(self, push: CollectPush) -> tuple[int, int]: ...
    def collect_items(self, task: str, key: str) -> list[bytes]: ...
    def collect_meta(self, task: str, key: str) -> dict[str, str]: ...
    def collect_buffers(self, task: str) -> list[str]: ...
    def collect_flush(self, task: str, key: str, job_id: str, version: int, max_attempts: int) -> int: ...


class QueueIndexing(Protocol):
    """Which task names were sent to each queue (adapters/queue_index.py)."""

    def note_queue_task(self, queue: str, task: str) -> None: ...
    def queue_tasks(self, queue: str) -> set[str]: ...
    def sent_tasks(self) -> set[str]: ...


class WorkerRegistry(Protocol):
    """Which task names each live worker serves (adapters/worker_registry.py)."""

    def publish_served(self, worker_id: str, names: Iterable[str], ttl_ms: int) -> None: ...
    def withdraw_served(self, worker_id: str) -> None: ...
    def served_by_live_workers(self) -> set[str]: ...


class MonitorEvents(Protocol):
    """Events a program sends for monitors (adapters/monitor_events.py); read them with ``read_events``."""

    def monitor_events_key(self) -> str: ...
    def publish_monitor_event(self, event_json: str, maxlen: int = ...) -> str: ...
    def monitor_events_end(self) -> str: ...
    def stream_time_position(self) -> str: ...


#: The ``address`` of the in-process engine (taskora/adapters/memory.py): a store no other process can reach.
IN_PROCESS_ADDRESS = "memory://"


class Adapter(Lifecycle, Producing, Transitions, JobReading, MetricsReading, JobRemoving, Controlling, Maintaining,
              Scheduling, WorkflowStoring, Observing, Collecting, QueueIndexing, WorkerRegistry, MonitorEvents,
              Protocol):  # fmt: skip
    """One store of jobs, reached only through named operations (every state change is one engine script)."""

    kind: str
    keys: Keys
    prefix: str | None
    clock: Clock
    #: Where the store is, for banners and errors: never with a password.
    address: str
    #: Longest a blocking wait may last on the adapter's connections (seconds; inf for no bound).
    longest_block_s: float
