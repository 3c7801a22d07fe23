"""The Redis adapter's core: its connections, the wire handshake, and how scripts are sent.

Two rules from the engine notes shape it. State transitions are never re-sent by redis-py's retry
(a lost reply would apply them twice), so the command client has retries off; every script is
also written to be harmless when run again. Blocking reads (the marker wait, the event stream)
run on their own connection pool with no socket timeout, so a long block is never mistaken for a
dead connection. Every concern of the adapter (adapters/dispatch.py, claiming.py, ...) builds on this.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

from redis.exceptions import AuthenticationError, InvalidResponse, ResponseError

from ..clock import Clock, SystemClock
from ..errors import BrokerUnreachableError, TaskoraError
from ..urls import mask_url
from . import connection_check
from .base import CONNECTION_ERRORS
from .handshake import WireGate, check_window, stored_meta, unreadable_meta
from .keys import MIN_COMPAT, WIRE_VERSION, Keys
from .reply_spin import spin_budget_s
from .scripts import ScriptSet, ThreadConnections, is_missing, refused_for_memory
from .slot_connections import thread_connections_of
from .topology import is_cluster_client

log = logging.getLogger("taskora.adapters.redis")

__all__ = ["CONNECTION_ERRORS", "RedisCore"]


class RedisCore:
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
        self.keys = Keys(prefix, cluster=is_cluster_client(client))
        self.prefix = prefix
        self.clock: Clock = clock or SystemClock()
        self.address = mask_url(address)  # shown in banners, reprs and errors: never with its password
        self.scripts = ScriptSet(_functions_client(client, self.keys.cluster))
        self._scripts_loaded = False
        spin_budget_s()  # a bad TASKORA_SPIN_US is refused here, naming it, not at the first call of some thread
        #: What transition scripts are sent through: the calling thread's own connection on a real
        #: Redis, the client itself otherwise (the in-memory engine has no sockets to save).
        self.runner: Any = ThreadConnections(client) if _has_sockets(client) else thread_connections_of(client)
        #: Longest a blocking command on the runner may block: shorter than the client's socket timeout, or
        #: the read would time out first and the wait would look like a broken connection.
        self.longest_block_s = _longest_block(client)
        self.wire_gate = WireGate()
        connection_check.install(self)  # once per connection from the first handshake on

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def raw_client(self) -> Any:
        return self.client

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
        try:
            reply = self.scripts.handshake(self.client, [self.keys.meta], self.handshake_arguments())
        except (ResponseError, TaskoraError) as exc:  # the error reply, raw or translated (adapters/scripts.py)
            refused = unreadable_meta(exc)
            if refused is None:
                raise
            raise refused from exc
        theirs = stored_meta(reply)
        check_window(theirs)
        self.wire_gate.mark_passed()
        return theirs

    def handshake_arguments(self) -> list[Any]:
        """ARGV of lua/handshake.lua: our wire window, who we are, and now."""
        return [WIRE_VERSION, MIN_COMPAT, f"taskora-wire-{WIRE_VERSION}", self.now_ms()]

    def ensure_handshake(self) -> None:
        """The handshake, once per adapter, before its first write (see adapters/handshake.py)."""
        self.wire_gate.ensure(self.handshake)

    def close(self) -> None:
        if isinstance(self.runner, ThreadConnections):
            self.runner.close()
        for c in (self.client, self.blocking):
            try:
                c.close()
            except Exception:  # closing is best effort: the process may be exiting
                log.debug("closing a Redis client failed", exc_info=True)

    def _pipeline_scripts(self, script: Any, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Many calls of ``script`` in one round trip, on this thread's connection where there is one
        (a redis-py pipeline packs every argument through Python first: 5 µs a job for enqueue_many)."""
        if self.keys.cluster:  # a cluster pipeline cannot run scripts (redis-py refuses): one call each
            return [script(self.client, keys, args) for keys, args in calls]
        if isinstance(self.runner, ThreadConnections):
            replies = self.runner.call_many(*(script.command(keys, args) for keys, args in calls))
        else:
            pipe = self.client.pipeline(transaction=False)
            for keys, args in calls:
                script.queue_in(pipe, keys, args)
            replies = pipe.execute(raise_on_error=False)
        missing = [i for i, r in enumerate(replies) if is_missing(r)]
        if missing:  # Redis lost the engine (its script cache, its functions); those calls never ran: resend them
            self.scripts.load_all(self.client)
            for i in missing:
                replies[i] = script(self.runner, *calls[i])
        if self.scripts.functions:  # a function refused whole at maxmemory: by EVALSHA, as scripts were before
            for i in [i for i, r in enumerate(replies) if refused_for_memory(r)]:
                replies[i] = script.reply_by_sha(self.runner, *calls[i])
        for r in replies:
            if isinstance(r, Exception):
                raise r
        return replies

    def _block_s(self, timeout_s: float) -> float:
        """A blocking command's timeout on the runner: under its socket timeout, and never 0 (forever)."""
        return max(min(timeout_s, self.longest_block_s), 0.001)


def _has_sockets(client: Any) -> bool:
    """A redis-py client of a real server (the in-memory engine's fakeredis client is not one)."""
    return type(client).__module__.split(".")[0] == "redis" and hasattr(client, "connection_pool")


def _functions_client(client: Any, cluster: bool) -> Any:
    """The client that loads the engine's function library, or None where scripts go by EVALSHA: a cluster (each
    node would need its own library, and redis-py routes no FCALL by key there), an in-memory engine whose
    fakeredis has no functions we tested, or a deployment that turned functions off (``TASKORA_REDIS_FUNCTIONS=0``:
    a proxy in front of Redis that passes EVALSHA through but not FCALL)."""
    if cluster or os.environ.get("TASKORA_REDIS_FUNCTIONS", "1") == "0":
        return None
    return client if _has_sockets(client) or _fakeredis_runs_functions(client) else None


#: The first fakeredis whose function library (FUNCTION LOAD, FCALL) the whole suite ran on. Its EVAL compiles
#: the script's text and collects all of Lua's garbage on every call; a function is compiled once: dispatches
#: 1,710 -> 3,800 a second and a one-slot worker 640 -> 1,120 jobs/s on the in-memory engine.
FAKEREDIS_WITH_FUNCTIONS = (2, 41)


def _fakeredis_runs_functions(client: Any) -> bool:
    """Whether ``client`` is a fakeredis client (the in-memory engine) of a version that runs the library."""
    if type(client).__module__.split(".")[0] != "fakeredis":
        return False
    version = getattr(sys.modules["fakeredis"], "__version__", "0")
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2]) >= FAKEREDIS_WITH_FUNCTIONS


def _longest_block(client: Any) -> float:
    """How long a blocking command may block on ``client``'s connections: a margin under its socket timeout
    (none: no bound), so a quiet wait never reads as a dead connection."""
    pool = getattr(client, "connection_pool", None) or getattr(client, "nodes_manager", None)  # a cluster's
    timeout: float | None = pool.connection_kwargs.get("socket_timeout") if pool is not None else None
    if not timeout:
        return float("inf")
    return max(0.01, timeout - min(1.0, timeout / 2))
