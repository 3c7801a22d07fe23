"""The Redis adapter: one method per engine transition, plus the reads the app needs.

``RedisAdapter`` is composed of one class per concern, each in its own module: the connections and the wire
handshake (core.py), producing (dispatch.py), the worker's transitions (claiming.py), waiting for work
(waiting.py), job reads (reads.py), control (control.py), maintenance (maintenance.py), the scheduler's keys
(scheduling.py) and workflow storage (workflows.py). It satisfies ``taskora.adapters.base.Adapter``, the
contract the layers above type against. The names this module always exported are still importable here.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..clock import Clock
from ..urls import mask_url
from .base import CONNECTION_ERRORS, BatchResult, ClaimedJob, ClaimResult, Completion, EnqueueRequest
from .claiming import ClaimingOps
from .collecting import CollectOps
from .control import ControlOps
from .core import RedisCore
from .cutting import ConnectionCutting
from .dispatch import DispatchOps
from .flow import FlowOps
from .job_removal import JobRemoval
from .maintenance import MaintenanceOps
from .metrics_reads import MetricsReads
from .monitor_events import MonitorEventOps
from .observing import ObservingOps
from .queue_index import QueueIndexOps
from .replies import PAYLOAD_FIELDS, ClaimInFlight, decode_job
from .scheduling import SchedulingOps
from .versions import VersionReads
from .waiting import WaitingOps
from .worker_registry import WorkerRegistryOps
from .workflows import WorkflowOps


class RedisAdapter(DispatchOps, ClaimingOps, WaitingOps, ControlOps, MaintenanceOps, SchedulingOps, WorkflowOps,
                   ObservingOps, VersionReads, CollectOps, MetricsReads, JobRemoval, FlowOps, QueueIndexOps,
                   WorkerRegistryOps, MonitorEventOps, ConnectionCutting, RedisCore):  # fmt: skip
    """Talks to one Redis (or Valkey, or an in-process fakeredis) through the engine scripts."""

    kind = "redis"


def no_retry() -> Retry:
    """No automatic resend: a state transition whose reply was lost must not run twice (see core.py)."""
    return Retry(NoBackoff(), 0)


def from_url(url: str, *, prefix: str | None = None, clock: Clock | None = None,
             **options: Any) -> RedisAdapter:  # fmt: skip
    """Build the adapter from a ``redis://`` / ``rediss://`` / ``unix://`` URL."""
    # One connection per thread that talks at once (slots, heartbeat, producers): no pool limit that fails
    # a transition with MaxConnectionsError by default; connections are only opened when used. The user's
    # options win, except that blocking reads have no socket timeout.
    common = {"retry": no_retry(), "socket_connect_timeout": 5, "health_check_interval": 30,
              "max_connections": 10_000, "socket_timeout": 30, **options}
    client = redis.Redis.from_url(url, **common)
    blocking = redis.Redis.from_url(url, **{**common, "socket_timeout": None})
    return RedisAdapter(client, blocking, prefix=prefix, clock=clock, address=safe_address(url))


def from_client(client: Any, *, prefix: str | None = None, clock: Clock | None = None) -> RedisAdapter:
    """Wrap a user's ``redis.Redis``; blocking reads get a sibling pool without a socket timeout."""
    kwargs = dict(client.connection_pool.connection_kwargs)
    kwargs.update(socket_timeout=None, retry=no_retry())
    pool = client.connection_pool.__class__(
        connection_class=client.connection_pool.connection_class, max_connections=10_000, **kwargs
    )
    blocking = redis.Redis(connection_pool=pool)
    address = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
    return RedisAdapter(client, blocking, prefix=prefix, clock=clock, address=address)


def safe_address(url: str) -> str:
    """The URL without its password, for error messages and banners (see ``taskora.urls.mask_url``)."""
    return mask_url(url)


__all__ = [
    "CONNECTION_ERRORS", "PAYLOAD_FIELDS", "BatchResult", "ClaimInFlight", "ClaimResult", "ClaimedJob", "Completion",
    "EnqueueRequest", "RedisAdapter", "decode_job", "from_client", "from_url", "safe_address",
]
