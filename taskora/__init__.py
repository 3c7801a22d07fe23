"""taskora: a Redis task queue whose every job transition is one atomic Lua script."""

from .app import Taskora, create_taskora
from .collect import CollectBufferInfo, CollectConfig
from .context import AbortSignal, Context
from .contracts import TaskContract, define_task, static_contract
from .errors import (
    BrokerUnreachableError,
    CancelledError,
    ConfigurationError,
    DependencyFailedError,
    DuplicateJobError,
    ExpiredError,
    JobFailedError,
    JobNotFoundError,
    MalformedJobError,
    MigrationError,
    OptionTypeError,
    RetryError,
    SchemaVersionMismatchError,
    SerializationError,
    StalledError,
    TaskoraError,
    ThrottledError,
    TimeoutError,
    UnknownTaskError,
    ValidationError,
    WorkerError,
    WorkerLostError,
)
from .events import Event
from .handles import ResultHandle
from .memory import memory_adapter
from .middleware import MiddlewareContext
from .options import Retention, RetryPolicy, StallPolicy
from .redis import redis_adapter
from .schema_dataclasses import DataclassSchema
from .task import Task
from .versioning import into
from .workflow import Chain, Chord, Group, Signature, WorkflowHandle, chain, chord, group

__version__ = "0.1.0"

__all__ = [
    "DataclassSchema",
    "MigrationError",
    "TaskContract",
    "define_task",
    "static_contract",
    "into",
    "DependencyFailedError",
    "JobNotFoundError",
    "MalformedJobError",
    "OptionTypeError",
    "WorkerError",
    "WorkerLostError",
    "BrokerUnreachableError",
    "AbortSignal",
    "Context",
    "Event",
    "MiddlewareContext",
    "ResultHandle",
    "Retention",
    "RetryPolicy",
    "StallPolicy",
    "CollectConfig",
    "CollectBufferInfo",
    "Task",
    "Signature",
    "Chain",
    "Group",
    "Chord",
    "WorkflowHandle",
    "chain",
    "group",
    "chord",
    "Taskora",
    "create_taskora",
    "memory_adapter",
    "redis_adapter",
    "CancelledError",
    "ConfigurationError",
    "DuplicateJobError",
    "ExpiredError",
    "JobFailedError",
    "RetryError",
    "SchemaVersionMismatchError",
    "SerializationError",
    "StalledError",
    "TaskoraError",
    "ThrottledError",
    "TimeoutError",
    "UnknownTaskError",
    "ValidationError",
]
