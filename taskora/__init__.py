"""taskora: a Redis task queue whose every job transition is one atomic Lua script."""

from .errors import (
    CancelledError,
    ConfigurationError,
    DuplicateJobError,
    ExpiredError,
    JobFailedError,
    RetryError,
    SchemaVersionMismatchError,
    SerializationError,
    StalledError,
    TaskoraError,
    ThrottledError,
    TimeoutError,
    UnknownTaskError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
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
