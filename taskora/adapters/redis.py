"""The Redis adapter: one method per engine transition, plus the reads the app needs.

Two rules from the engine notes shape it. State transitions are never re-sent by redis-py's retry
(a lost reply would apply them twice), so the command client has retries off; every script is
also written to be harmless when run again. Blocking reads (the marker wait, the event stream)
run on their own connection pool with no socket timeout, so a long block is never mistaken for a
dead connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, InvalidResponse, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from ..clock import Clock, SystemClock
from ..errors import BrokerUnreachableError, SchemaVersionMismatchError, from_engine_reply
from ..urls import mask_url
from .direct import InFlight
from .keys import MIN_COMPAT, WIRE_VERSION, Keys
from .scripts import ScriptSet, ThreadConnections

log = logging.getLogger("taskora.adapters.redis")

#: Errors that mean "Redis is not answering"; loops back off and try again on these.
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)

#: Job hash fields that hold serialized payloads; kept as bytes so any serializer round-trips.
PAYLOAD_FIELDS = frozenset({"data", "result", "progress"})


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _pairs(flat: Sequence[Any]) -> dict[Any, Any]:
    pairs = iter(flat)
    return dict(zip(pairs, pairs, strict=False))


#: Field names seen in job hashes, decoded once (the same dozen names come with every claimed job).
_FIELD_NAMES: dict[Any, str] = {}


def decode_job(flat: Sequence[Any]) -> dict[str, Any]:
    """A flat HGETALL reply as a dict: text fields as str, payload fields as bytes."""
    job: dict[str, Any] = {}
    pairs = iter(flat)
    names = _FIELD_NAMES
    for raw_name, value in zip(pairs, pairs, strict=False):  # one per job in a worker: kept to plain bytecode
        name = names.get(raw_name)
        if name is None:
            name = raw_name.decode("utf-8", "replace") if type(raw_name) is bytes else str(raw_name)
            if len(names) < 1024:  # a bounded cache: arbitrary extra fields must not grow it forever
                names[raw_name] = name
        if name in PAYLOAD_FIELDS:
            job[name] = value
        else:
            job[name] = value.decode("utf-8", "replace") if type(value) is bytes else str(value)
    return job


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
    max_attempts: int = 1
    expire_at_ms: int = 0
    version: int = 1
    fields: dict[str, str] = field(default_factory=dict)


def _claim_reply(task: str, token: str, reply: Sequence[Any]) -> ClaimResult:
    first = _text(reply[0]) if reply else ""
    if first == "":
        due = _text(reply[1]) if len(reply) > 1 else ""
        return ClaimResult(next_due_ms=int(float(due)) if due else None)
    return ClaimResult(job=ClaimedJob(task, first, token, decode_job(reply[2:])), more=reply[1] in (b"1", "1"))


def _finish_reply(task: str, next_token: str | None, reply: Sequence[Any]) -> ClaimResult:
    """A fused finish-and-claim's reply: the finished job's status, then (with a next token) the claim."""
    status = _text(reply[0])
    result = _claim_reply(task, next_token or "", reply[1:]) if next_token else ClaimResult()
    result.status = status
    return result


def _field_values(names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """HMGET's values by name: text, except payloads (kept as bytes for any serializer) and missing ones."""
    return {n: (v if n in PAYLOAD_FIELDS or v is None else _text(v)) for n, v in zip(names, values, strict=True)}


def _head_id(head: Sequence[Any]) -> str:
    """The entry id of an ``XREVRANGE ... COUNT 1`` reply ("0-0" for an empty stream)."""
    return _text(head[0][0]) if head else "0-0"


def _batch_reply(task: str, token: str, n: int, reply: Sequence[Any]) -> BatchResult:
    """ack_many's reply: ``n`` statuses, the next due time, then each claimed job as (size, fields...)."""
    batch = BatchResult(statuses=[_text(s) for s in reply[:n]])
    due = _text(reply[n])
    batch.next_due_ms = int(float(due)) if due else None
    i = n + 1
    while i < len(reply):
        size = int(reply[i])
        claimed = _claim_reply(task, token, reply[i + 1:i + 1 + size]).job
        batch.jobs.append(cast(ClaimedJob, claimed))  # ack_many lists claimed jobs only: never None here
        i += 1 + size
    return batch


class ClaimInFlight:
    """A claim (or a fused finish-and-claim) sent ahead: ``result()`` reads its ClaimResult."""

    def __init__(self, sent: InFlight, resend: Any, task: str, token: str, fused: bool) -> None:
        self._sent, self._resend = sent, resend
        self.task, self.token, self.fused = task, token, fused

    def result(self) -> ClaimResult:
        """The reply; raises a connection error when the connection broke before it was read (then whether
        Redis ran the script is unknown: every script is harmless to run again)."""
        try:
            reply = self._sent.result()
        except NoScriptError:
            reply = self._resend()
        except ResponseError as exc:
            raise from_engine_reply(str(exc)) from exc
        if self.fused:
            return _finish_reply(self.task, self.token, reply)
        return _claim_reply(self.task, self.token, reply)


class RedisAdapter:
    """Talks to one Redis (or Valkey, or an in-process fakeredis) through the engine scripts."""

    kind = "redis"

    def __init__(
        self,
        client: Any,
        blocking_client: Any,
        *,
        prefix: str | None = None,
        clock: Clock | None = None,
        address: str = "redis",
    ) -> None:
        self.client = client
        self.blocking = blocking_client
        self.keys = Keys(prefix)
        self.prefix = prefix
        self.clock: Clock = clock or SystemClock()
        self.address = mask_url(address)  # shown in banners, reprs and errors: never with its password
        self.scripts = ScriptSet()
        self._scripts_loaded = False
        #: What transition scripts are sent through: the calling thread's own connection on a real
        #: Redis, the client itself otherwise (the in-memory engine has no sockets to save).
        self.runner: Any = ThreadConnections(client) if _has_sockets(client) else client
        #: Longest a blocking command on the runner may block: shorter than the client's socket timeout, or
        #: the read would time out first and the wait would look like a broken connection.
        self.longest_block_s = _longest_block(client)

    # -- lifecycle ----------------------------------------------------------------------------
    def now_ms(self) -> int:
        return self.clock.now_ms()

    def connect(self) -> None:
        """Check Redis answers and that its keyspace speaks our wire format."""
        try:
            self.client.ping()
        except AuthenticationError as exc:  # a ConnectionError to redis-py, but no wait will fix a password
            raise BrokerUnreachableError(f"Redis at {self.address} refused the connection: {exc}",
                                         retryable=False) from exc
        except CONNECTION_ERRORS as exc:
            raise BrokerUnreachableError(f"cannot reach Redis at {self.address}: {exc}") from exc
        except InvalidResponse as exc:  # something answered, but not in Redis's protocol
            raise BrokerUnreachableError(f"the server at {self.address} does not speak the Redis protocol "
                                         f"({exc}); is this a Redis port?", retryable=False) from exc
        except ResponseError as exc:  # refused while connecting: SELECT of a missing database, AUTH, HELLO
            raise BrokerUnreachableError(f"Redis at {self.address} refused the connection: {exc}",
                                         retryable=False) from exc
        self.handshake()

    def handshake(self) -> dict[str, Any]:
        """Write or read ``taskora:meta`` and refuse a store whose wire window does not meet ours."""
        reply = self.scripts.handshake(
            self.client,
            [self.keys.meta],
            [WIRE_VERSION, MIN_COMPAT, f"taskora-wire-{WIRE_VERSION}", self.now_ms()],
        )
        theirs: dict[str, Any] = {"wireVersion": _text(reply[0]) if reply[0] is not None else None,
                                  "minCompat": _text(reply[1]) if reply[1] is not None else None,
                                  "writtenBy": _text(reply[2]) if reply[2] is not None else None}
        try:
            their_version, their_min = int(theirs["wireVersion"]), int(theirs["minCompat"])
        except (TypeError, ValueError):
            raise SchemaVersionMismatchError("invalid_meta", (WIRE_VERSION, MIN_COMPAT), theirs) from None
        if their_min > WIRE_VERSION:
            raise SchemaVersionMismatchError("theirs_too_new", (WIRE_VERSION, MIN_COMPAT), theirs)
        if their_version < MIN_COMPAT:
            raise SchemaVersionMismatchError("theirs_too_old", (WIRE_VERSION, MIN_COMPAT), theirs)
        return theirs

    def close(self) -> None:
        for c in (self.client, self.blocking):
            try:
                c.close()
            except Exception:  # closing is best effort: the process may be exiting
                log.debug("closing a Redis client failed", exc_info=True)

    # -- producing ----------------------------------------------------------------------------
    @staticmethod
    def _job_record(req: EnqueueRequest) -> list[Any]:
        """One job as the engine's record (lua/lib/enqueue.lua): 8 fixed items, then extra field pairs."""
        record: list[Any] = [req.id, req.data, req.delay_ms, req.priority, req.max_attempts, req.expire_at_ms,
                             req.version, 2 * len(req.fields)]
        for name, value in req.fields.items():
            record += (name, value)
        return record

    def enqueue(self, req: EnqueueRequest) -> bool:
        args = [self.keys.task_prefix(req.task), self.now_ms(), *self._job_record(req)]
        return bool(self.scripts.enqueue(self.runner, self.keys.queue(req.task), args))

    #: Jobs per enqueue_many script call: large enough to amortise a call, small enough to keep one
    #: script short (Redis runs nothing else meanwhile).
    ENQUEUE_BATCH = 100

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> list[bool]:
        """Enqueue many jobs in one round trip: one script call per task and batch, pipelined."""
        if not requests:
            return []
        if not self._scripts_loaded:
            self.scripts.load_all(self.client)
            self._scripts_loaded = True
        batches: list[list[int]] = []  # indexes into ``requests``, one task per batch
        open_batch: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            batch = open_batch.get(req.task)
            if batch is None or len(batch) == self.ENQUEUE_BATCH:
                batch = open_batch[req.task] = []
                batches.append(batch)
            batch.append(i)
        now = self.now_ms()
        calls = []
        for batch in batches:
            task = requests[batch[0]].task
            args: list[Any] = [self.keys.task_prefix(task), now]
            for i in batch:
                args += self._job_record(requests[i])
            calls.append((self.keys.queue(task), args))
        created = [False] * len(requests)
        for batch, reply in zip(batches, self._pipeline_scripts(self.scripts.enqueue_many, calls), strict=True):
            for i, flag in zip(batch, reply, strict=True):
                created[i] = bool(flag)
        return created

    def _pipeline_scripts(self, script: Any, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Many calls of ``script`` in one round trip, on this thread's connection where there is one
        (a redis-py pipeline packs every argument through Python first: 5 µs a job for enqueue_many)."""
        if isinstance(self.runner, ThreadConnections):
            replies = self.runner.call_many(*(("EVALSHA", script.sha, len(keys), *keys, *args) for keys, args in calls))
        else:
            pipe = self.client.pipeline(transaction=False)
            for keys, args in calls:
                script.queue_in(pipe, keys, args)
            replies = pipe.execute(raise_on_error=False)
        missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
        if missing:  # Redis lost its script cache; those calls never ran, so resend only them
            self.scripts.load_all(self.client)
            for i in missing:
                replies[i] = script(self.runner, *calls[i])
        for r in replies:
            if isinstance(r, Exception):
                raise r
        return replies

    # -- the worker's transitions ---------------------------------------------------------------
    def claim(self, task: str, token: str, lock_ttl_ms: int) -> ClaimResult:
        keys = self.keys.queue(task)
        args = [self.keys.task_prefix(task), self.now_ms(), token, lock_ttl_ms]
        return _claim_reply(task, token, self.scripts.claim(self.runner, keys, args))

    def ack(
        self, job: ClaimedJob, result: str | bytes, *, keep: bool = True,
        next_token: str | None = None, lock_ttl_ms: int = 0,
    ) -> ClaimResult:  # fmt: skip
        """Complete ``job``; with ``next_token`` also claim the next job in the same round trip."""
        args = [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token, result,
                "1" if keep else "0", next_token or "", lock_ttl_ms]
        reply = self.scripts.ack(self.runner, self.keys.queue(job.task), args)
        return _finish_reply(job.task, next_token, reply)

    def fail(
        self, job: ClaimedJob, error: str, *, retry_delay_ms: int | None = None, detail: str = "",
        retry_data: str | bytes | None = None, next_token: str | None = None, lock_ttl_ms: int = 0,
    ) -> ClaimResult:  # fmt: skip
        """End a failed attempt: retry ``retry_delay_ms`` from now (with ``retry_data`` as its new input, if
        given), or fail for good; optionally claim the next job in the same round trip."""
        args = [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token, error,
                "" if retry_delay_ms is None else retry_delay_ms, next_token or "", lock_ttl_ms, detail,
                "0" if retry_data is None else "1", "" if retry_data is None else retry_data]
        reply = self.scripts.fail(self.runner, self.keys.queue(job.task), args)
        return _finish_reply(job.task, next_token, reply)

    def ack_many(self, task: str, completions: Sequence[Completion], *, claim: int = 0, token: str = "",
                 lock_ttl_ms: int = 0) -> BatchResult:  # fmt: skip
        """Complete ``completions`` (jobs of ``task``), then claim up to ``claim`` jobs under ``token``: one
        round trip for a whole group of slots."""
        args: list[Any] = [self.keys.task_prefix(task), self.now_ms(), token, lock_ttl_ms, claim, len(completions)]
        for c in completions:
            args += (c.job.id, c.job.token, c.result, "1" if c.keep else "0")
        reply = self.scripts.ack_many(self.runner, self.keys.queue(task), args)
        return _batch_reply(task, token, len(completions), reply)

    def ack_later(self, job: ClaimedJob, result: str | bytes, *, keep: bool, next_token: str,
                  lock_ttl_ms: int) -> ClaimInFlight:  # fmt: skip
        """``ack`` with the next claim, its reply read later: the caller runs a job it already holds while
        Redis completes this one and claims the next (see ``worker/lookahead.py``)."""
        args = [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token, result, "1" if keep else "0",
                next_token, lock_ttl_ms]
        return self._later(self.scripts.ack, self.keys.queue(job.task), args, job.task, next_token, fused=True)

    def claim_later(self, task: str, token: str, lock_ttl_ms: int) -> ClaimInFlight:
        """``claim``, its reply read later."""
        args = [self.keys.task_prefix(task), self.now_ms(), token, lock_ttl_ms]
        return self._later(self.scripts.claim, self.keys.queue(task), args, task, token, fused=False)

    def _later(self, script: Any, keys: list[str], args: list[Any], task: str, token: str,
               fused: bool) -> ClaimInFlight:  # fmt: skip
        def resend() -> Any:  # NOSCRIPT: Redis lost its script cache and did not run it; send it loading the script
            return script(self.runner, keys, args)

        if isinstance(self.runner, ThreadConnections):
            (sent,) = self.runner.send(("EVALSHA", script.sha, len(keys), *keys, *args))
        else:  # the in-memory engine has no socket to send ahead on: it runs now
            sent = InFlight.settled(resend())
        return ClaimInFlight(sent, resend, task, token, fused)

    # -- waiting for work -------------------------------------------------------------------------
    def wait_then_claim(self, task: str, timeout_s: float, token: str, lock_ttl_ms: int) -> ClaimResult:
        """Block on the marker (``wait_for_work``), then claim. On a real Redis both go out in one write
        on this thread's connection: Redis runs the claim the moment the wait ends, and the caller wakes
        once, to the claim's reply. A claim after a wait that timed out is what the caller sends next
        anyway. Its ``now`` is '' (Redis' clock), since nobody knows when it will run; with another clock
        than the system's (a virtual one) or no sockets (the in-memory engine) the two go one by one."""
        keys, claim = self.keys.queue(task), self.scripts.claim
        args = [self.keys.task_prefix(task), "", token, lock_ttl_ms]
        if timeout_s <= 0 or not (isinstance(self.runner, ThreadConnections) and isinstance(self.clock, SystemClock)):
            if timeout_s > 0:
                self.wait_for_work(task, timeout_s)
            args[1] = self.now_ms()
            return _claim_reply(task, token, claim(self.runner, keys, args))
        marker_wait = ("BZPOPMIN", self.keys.marker(task), self._block_s(timeout_s))
        waited, reply = self.runner.call_many(marker_wait, ("EVALSHA", claim.sha, len(keys), *keys, *args))
        if isinstance(waited, Exception):
            raise waited
        if isinstance(reply, NoScriptError):  # Redis lost its script cache; the claim did not run
            reply = claim(self.runner, keys, args)
        elif isinstance(reply, ResponseError):
            raise from_engine_reply(str(reply)) from reply
        return _claim_reply(task, token, reply)

    def nack(self, task: str, job_id: str, token: str = "") -> bool:
        """Give an active job back unfinished; ``token=''`` lets a supervisor requeue a dead child's job."""
        args = [self.keys.task_prefix(task), self.now_ms(), job_id, token]
        return bool(self.scripts.nack(self.runner, self.keys.queue(task), args))

    def extend_locks(self, held: Iterable[ClaimedJob], lock_ttl_ms: int) -> list[str]:
        """Heartbeat every held job in one pipeline; one status per job (extended/cancelled/lost)."""
        jobs = list(held)
        if not jobs:
            return []
        if not self._scripts_loaded:
            self.scripts.load_all(self.client)
            self._scripts_loaded = True
        calls = [([self.keys.job(j.task, j.id), self.keys.lock(j.task, j.id)], [j.token, lock_ttl_ms])
                 for j in jobs]
        return [_text(r) for r in self._pipeline_scripts(self.scripts.extend_lock, calls)]

    def finish_cancel(self, job: ClaimedJob) -> bool:
        args = [self.keys.task_prefix(job.task), self.now_ms(), job.id, job.token]
        return bool(self.scripts.finish_cancel(self.runner, self.keys.queue(job.task), args))

    def retry_failed(self, task: str, job_ids: Sequence[str]) -> int:
        """Move failed jobs back to waiting with a fresh attempt count (the dead-letter retry)."""
        ids = list(job_ids)
        if not ids:
            return 0
        args = [self.keys.task_prefix(task), self.now_ms(), *ids]
        return int(self.scripts.dlq_retry(self.runner, self.keys.queue(task), args))

    def stall_sweep(self, task: str, max_count: int) -> tuple[list[str], list[str]]:
        """Recover (or fail) jobs of dead workers; returns (recovered ids, failed ids)."""
        args = [self.keys.task_prefix(task), self.now_ms(), max_count]
        reply = [_text(r) for r in self.scripts.stall_sweep(self.runner, self.keys.queue(task), args)]
        cut = reply.index("|")
        return reply[:cut], reply[cut + 1 :]

    def reclaim(self, task: str, job_id: str, token: str, max_lost: int | None) -> str:
        """Hand back a job whose worker is gone, if ``token`` still holds it (lua/reclaim.lua); its status."""
        args = [self.keys.task_prefix(task), self.now_ms(), job_id, token, "" if max_lost is None else max_lost]
        return _text(self.scripts.reclaim(self.runner, self.keys.queue(task), args))

    def locks_of_active(self, task: str, chunk: int = 1000) -> list[tuple[str, str]]:
        """``(job id, lock token)`` of every active job of ``task`` whose lock is set."""
        ids = self.list_ids(task, "active")
        held = []
        for i in range(0, len(ids), chunk):
            part = ids[i:i + chunk]
            locks = self.client.mget([self.keys.lock(task, job_id) for job_id in part])
            held += [(job_id, _text(lock)) for job_id, lock in zip(part, locks, strict=True) if lock is not None]
        return held

    def mark_alive(self, worker_id: str, name: str, ttl_ms: int) -> None:
        """Say that worker ``worker_id`` (called ``name``) runs, for ``ttl_ms`` from now."""
        self.client.set(self.keys.worker_alive(worker_id), name, px=ttl_ms)

    def mark_all_alive(self, workers: dict[str, str], ttl_ms: int) -> None:
        """``mark_alive`` for several workers (``{worker id: name}``) in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for worker_id, name in workers.items():
            pipe.set(self.keys.worker_alive(worker_id), name, px=ttl_ms)
        pipe.execute()

    def mark_gone(self, worker_id: str) -> None:
        self.client.delete(self.keys.worker_alive(worker_id))

    def alive(self, worker_ids: Iterable[str]) -> set[str]:
        """Which of ``worker_ids`` still have their liveness key."""
        ids = list(worker_ids)
        pipe = self.client.pipeline(transaction=False)
        for worker_id in ids:
            pipe.exists(self.keys.worker_alive(worker_id))
        return {worker_id for worker_id, present in zip(ids, pipe.execute(), strict=True) if present}

    def trim(self, task: str, *, completed_age_ms: int, completed_count: int, failed_age_ms: int,
             failed_count: int, batch: int = 1000) -> int:  # fmt: skip
        args = [self.keys.task_prefix(task), self.now_ms(), completed_age_ms, completed_count,
                failed_age_ms, failed_count, batch]
        return int(self.scripts.trim(self.runner, self.keys.queue(task), args))

    def set_progress(self, task: str, job_id: str, progress: str | bytes) -> bool:
        keys = [self.keys.job(task, job_id), self.keys.events(task)]
        return bool(self.scripts.progress(self.runner, keys, [job_id, progress]))

    def append_log(self, task: str, job_id: str, entry: str, cap: int = 1000) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(self.keys.logs(task, job_id), entry)
        pipe.ltrim(self.keys.logs(task, job_id), -cap, -1)
        pipe.execute()

    def wait_for_work(self, task: str, timeout_s: float) -> bool:
        """Block until a marker says a claim may succeed, or the timeout passes."""
        if isinstance(self.runner, ThreadConnections):  # the calling thread's own connection: no pool on the way
            return self.runner.call("BZPOPMIN", self.keys.marker(task), self._block_s(timeout_s)) is not None
        return self.blocking.bzpopmin(self.keys.marker(task), timeout=max(timeout_s, 0.001)) is not None

    def _block_s(self, timeout_s: float) -> float:
        """A blocking command's timeout on the runner: under its socket timeout, and never 0 (forever)."""
        return max(min(timeout_s, self.longest_block_s), 0.001)

    def wake_workers(self, task: str, count: int) -> None:
        """Wake up to ``count`` blocked claimers of ``task`` (used to stop a worker promptly)."""
        members = {f"wake:{i}": 0 for i in range(count)}
        if members:
            self.client.zadd(self.keys.marker(task), members)

    # -- control and reads --------------------------------------------------------------------
    def cancel(self, task: str, job_id: str, reason: str = "", *, terminate: str = "") -> str:
        """Cancel a job (see lua/cancel.lua); ``terminate`` (a signal name) also ends an active one at once."""
        keys = self.keys.queue(task) + [self.keys.cancel_channel(task)]
        args = [self.keys.task_prefix(task), self.now_ms(), job_id, reason, terminate]
        return _text(self.scripts.cancel(self.runner, keys, args))

    def get_job(self, task: str, job_id: str) -> dict[str, Any] | None:
        raw = self.client.hgetall(self.keys.job(task, job_id))
        return decode_job([x for kv in raw.items() for x in kv]) if raw else None

    def get_fields(self, task: str, job_id: str, names: Sequence[str]) -> dict[str, Any]:
        if isinstance(self.runner, ThreadConnections):
            values = self.runner.call("HMGET", self.keys.job(task, job_id), *names)
        else:
            values = self.client.hmget(self.keys.job(task, job_id), list(names))
        return _field_values(names, values)

    def find_task_of(self, job_id: str, task_names: Sequence[str]) -> str | None:
        """Which of ``task_names`` owns job ``job_id`` (one pipelined EXISTS per name, one round trip)."""
        names = list(task_names)
        if not names:
            return None
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.exists(self.keys.job(name, job_id))
        for name, found in zip(names, pipe.execute(), strict=True):
            if found:
                return name
        return None

    def get_logs(self, task: str, job_id: str) -> list[str]:
        return [_text(x) for x in self.client.lrange(self.keys.logs(task, job_id), 0, -1)]

    def read_events(self, positions: dict[str, str], block_ms: int, count: int = 500) -> list[Any]:
        """XREAD the given streams from the given ids; blocks at most ``block_ms``."""
        if not positions:
            return []
        if isinstance(self.runner, ThreadConnections):
            streams = list(positions)
            block_ms = max(1, int(self._block_s(block_ms / 1000) * 1000))
            reply = self.runner.call("XREAD", "COUNT", count, "BLOCK", block_ms, "STREAMS", *streams,
                                     *(positions[s] for s in streams))
            by_stream = reply.items() if isinstance(reply, dict) else reply or ()  # RESP3 (TLS set-ups) / RESP2
            return [(stream, [(entry_id, _pairs(flat)) for entry_id, flat in entries]) for stream, entries in by_stream]
        return self.blocking.xread(positions, count=count, block=block_ms) or []

    def stream_end_and_fields(self, task: str, job_id: str,
                              names: Sequence[str]) -> tuple[str, dict[str, Any]] | None:  # fmt: skip
        """Where the task's event stream ends now, then the job's ``names`` fields: one write, one round
        trip on this thread's connection, in that order (so a final event the look missed comes after
        that position). None where they cannot go out together (the in-memory engine)."""
        if not isinstance(self.runner, ThreadConnections):
            return None
        head, look = self.runner.call_many(("XREVRANGE", self.keys.events(task), "+", "-", "COUNT", 1),
                                           ("HMGET", self.keys.job(task, job_id), *names))
        for reply in (head, look):
            if isinstance(reply, Exception):
                raise reply
        return _head_id(head), _field_values(names, look)

    def next_due_ms(self, task: str) -> int | None:
        """When the earliest delayed job (or retry) of ``task`` is due, in epoch ms; None if none is."""
        head = self.client.zrange(self.keys.state_set(task, "delayed"), 0, 0, withscores=True)
        return int(head[0][1]) if head else None

    def last_event_id(self, task: str) -> str:
        """The id of the newest event of ``task`` ("0-0" if none): where a new reader starts."""
        return _head_id(self.client.xrevrange(self.keys.events(task), count=1))

    def counts(self, task: str) -> dict[str, int]:
        """How many jobs of ``task`` are in each state, in one round trip."""
        k = self.keys.queue(task)
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(k[0])
        pipe.zcard(k[1])
        for i in (2,):
            pipe.llen(k[i])
        for i in (3, 4, 5, 6, 7):
            pipe.zcard(k[i])
        wait, prio, active, delayed, completed, failed, expired, cancelled = pipe.execute()
        return {"waiting": wait + prio, "active": active, "delayed": delayed, "completed": completed,
                "failed": failed, "expired": expired, "cancelled": cancelled}

    def held_with(self, task: str, tokens: Iterable[str], chunk: int = 1000) -> list[str]:
        """Ids of ``task``'s active jobs locked under one of ``tokens``: what a dead worker had claimed when it
        died, found without the claim's reply it never read."""
        wanted = set(tokens)
        ids = self.list_ids(task, "active") if wanted else []
        found = []
        for i in range(0, len(ids), chunk):
            part = ids[i:i + chunk]
            locks = self.client.mget([self.keys.lock(task, job_id) for job_id in part])
            found += [job_id for job_id, lock in zip(part, locks, strict=True)
                      if lock is not None and _text(lock) in wanted]
        return found

    def list_ids(self, task: str, state: str, start: int = 0, stop: int = -1) -> list[str]:
        """Job ids of ``task`` in ``state`` (newest first for finished states)."""
        k = self.keys
        if state == "waiting":
            prio = self.client.zrange(k.state_set(task, "prioritized"), 0, -1)
            fifo = self.client.lrange(k.state_set(task, "wait"), 0, -1)[::-1]
            ids = prio + fifo
            return [_text(i) for i in ids[start : None if stop == -1 else stop + 1]]
        if state == "active":
            return [_text(i) for i in self.client.lrange(k.state_set(task, "active"), start, stop)]
        if state == "delayed":
            return [_text(i) for i in self.client.zrange(k.state_set(task, "delayed"), start, stop)]
        return [_text(i) for i in self.client.zrevrange(k.state_set(task, state), start, stop)]

    def purge(self, task: str) -> int:
        """Delete every waiting and delayed job of ``task``; returns how many."""
        ids = self.list_ids(task, "waiting") + self.list_ids(task, "delayed")
        pipe = self.client.pipeline(transaction=False)
        for job_id in ids:
            pipe.delete(self.keys.job(task, job_id), self.keys.logs(task, job_id))
        for name in ("wait", "prioritized", "delayed"):
            pipe.delete(self.keys.state_set(task, name))
        pipe.execute()
        return len(ids)

    def set_rate_limit(self, task: str, interval_ms: float | None) -> None:
        """Set (or with None remove) ``task``'s limiter, read by every claim (see taskora/rate_limits.py)."""
        key = self.keys.rate_limit(task)
        if interval_ms is None:
            self.client.hdel(key, "interval", "tat")  # the declared limit stays recorded (see declare_rate_limit)
        else:
            self.client.hset(key, "interval", repr(float(interval_ms)))

    def declare_rate_limit(self, task: str, interval_ms: float | None) -> bool:
        """Write the limit ``task`` declares in code, unless that declaration is already recorded (a limit set at
        run time then stays in force); True when something was written."""
        key, declared = self.keys.rate_limit(task), "" if interval_ms is None else repr(float(interval_ms))
        recorded = self.client.hget(key, "declared")
        if (recorded.decode() if isinstance(recorded, bytes) else recorded or "") == declared:
            return False
        if interval_ms is None:
            self.client.delete(key)
        else:
            self.client.hset(key, mapping={"interval": declared, "declared": declared})
        return True

    def rate_limit_interval(self, task: str) -> float | None:
        """The ms between two starts of ``task`` in force, or None when it has no limit."""
        raw = self.client.hget(self.keys.rate_limit(task), "interval")
        return None if raw is None else float(raw)

    def pubsub(self) -> Any:
        return self.blocking.pubsub(ignore_subscribe_messages=True)

    # -- scheduler (taskora:schedules, :schedules:next, :schedules:lock) -------------------------
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


def _has_sockets(client: Any) -> bool:
    """A redis-py client of a real server (the in-memory engine's fakeredis client is not one)."""
    return type(client).__module__.split(".")[0] == "redis" and hasattr(client, "connection_pool")


def _longest_block(client: Any) -> float:
    """How long a blocking command may block on ``client``'s connections: a margin under its socket timeout
    (none: no bound), so a quiet wait never reads as a dead connection."""
    pool = getattr(client, "connection_pool", None)
    timeout: float | None = pool.connection_kwargs.get("socket_timeout") if pool is not None else None
    if not timeout:
        return float("inf")
    return max(0.01, timeout - min(1.0, timeout / 2))


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def from_url(url: str, *, prefix: str | None = None, clock: Clock | None = None,
             **options: Any) -> RedisAdapter:  # fmt: skip
    """Build the adapter from a ``redis://`` / ``rediss://`` / ``unix://`` URL."""
    # One connection per thread that talks at once (slots, heartbeat, producers): no pool limit that fails
    # a transition with MaxConnectionsError by default; connections are only opened when used. The user's
    # options win, except that blocking reads have no socket timeout.
    common = {"retry": _no_retry(), "socket_connect_timeout": 5, "health_check_interval": 30,
              "max_connections": 10_000, "socket_timeout": 30, **options}
    client = redis.Redis.from_url(url, **common)
    blocking = redis.Redis.from_url(url, **{**common, "socket_timeout": None})
    return RedisAdapter(client, blocking, prefix=prefix, clock=clock, address=safe_address(url))


def from_client(client: Any, *, prefix: str | None = None, clock: Clock | None = None) -> RedisAdapter:
    """Wrap a user's ``redis.Redis``; blocking reads get a sibling pool without a socket timeout."""
    kwargs = dict(client.connection_pool.connection_kwargs)
    kwargs.update(socket_timeout=None, retry=_no_retry())
    pool = client.connection_pool.__class__(
        connection_class=client.connection_pool.connection_class, max_connections=10_000, **kwargs
    )
    blocking = redis.Redis(connection_pool=pool)
    address = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    return RedisAdapter(client, blocking, prefix=prefix, clock=clock, address=address)


def safe_address(url: str) -> str:
    """The URL without its password, for error messages and banners (see ``taskora.urls.mask_url``)."""
    return mask_url(url)
