"""The error tree. One root, ``TaskoraError``; engine error codes map onto it through ``ERROR_CODES``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


class TaskoraError(Exception):
    """Root of every error taskora raises on purpose."""


class ConfigurationError(TaskoraError, ValueError):
    """A task, dispatch or app option is wrong; raised where it is given, before anything is enqueued."""


def reject_unknown(where: str, given: Iterable[str], known: Iterable[str], *, noun: str = "option(s)") -> None:
    """Raise ConfigurationError naming the names in ``given`` that are not ``known``, and the known ones."""
    known = set(known)
    unknown = set(given) - known
    if unknown:
        raise ConfigurationError(f"{where}: unknown {noun} {', '.join(sorted(unknown))}; "
                                 f"known: {', '.join(sorted(known))}")


class SerializationError(TaskoraError, TypeError):
    """A payload or result cannot be encoded (or decoded) by the configured serializer."""


class ValidationError(TaskoraError):
    """Input or output failed schema validation; ``issues`` holds what the validator reported."""

    def __init__(self, message: str, issues: list[Any] | None = None) -> None:
        super().__init__(message)
        self.issues = list(issues or [])


class RetryError(TaskoraError):
    """Raised (usually via ``ctx.retry()``) to ask for another attempt; always retried while attempts remain."""

    #: Marks "no new data": the next attempt gets the job's current input.
    KEEP_DATA: Any = object()

    def __init__(self, reason: str | None = None, delay: float | None = None, data: Any = KEEP_DATA) -> None:
        super().__init__(reason or "retry requested")
        self.reason = reason
        self.delay = delay
        #: The next attempt's input, when the retry changes it (Celery's ``retry(args=, kwargs=)``).
        self.data = data


class TimeoutError(TaskoraError):  # noqa: A001 - the seeds' name; shadows the builtin on purpose
    """A handler ran past its ``timeout``, or a result wait ran out of time."""


class SoftTimeLimitExceeded(TaskoraError):
    """Raised inside a handler when its soft time limit passes; the handler may catch it and clean up."""


class TimeLimitExceeded(TaskoraError):
    """A handler ran past its hard time limit: its process was killed (prefork) or its thread abandoned."""


class JobFailedError(TaskoraError):
    """The job ended failed; ``error`` is the message stored by the worker (the bare message, as TypeScript
    stores it), ``error_type`` the exception's type name when a Python worker recorded it, ``job_id`` names
    the job. The message shows ``Type: message``."""

    def __init__(self, job_id: str, error: str, task: str | None = None, error_type: str | None = None) -> None:
        shown = f"{error_type}: {error}" if error_type and not error.startswith(f"{error_type}:") else error
        super().__init__(f"job {job_id} ({task or 'unknown task'}) failed: {shown}")
        self.job_id = job_id
        self.error = error
        self.task = task
        self.error_type = error_type


class CancelledError(TaskoraError):
    """The job was cancelled; ``reason`` says why if the canceller gave one."""

    def __init__(self, job_id: str, reason: str | None = None) -> None:
        super().__init__(f"job {job_id} was cancelled" + (f": {reason}" if reason else ""))
        self.job_id = job_id
        self.reason = reason


class ThrottledError(TaskoraError):
    """A throttled dispatch was rejected (only raised with ``throw_on_reject=True``); ``key`` is the throttle
    key that was full, ``job_id`` the id the rejected job would have had."""

    def __init__(self, key: str, job_id: str | None = None) -> None:
        super().__init__(f"dispatch throttled: the window of throttle key {key!r} is full")
        self.key = key
        self.job_id = job_id

    def __reduce__(self) -> Any:
        return type(self), (self.key, self.job_id)


class DuplicateJobError(TaskoraError):
    """A deduplicated dispatch found a live job holding its key (only with ``throw_on_reject=True``);
    ``existing_id`` is that job."""

    def __init__(self, key: str, existing_id: str | None = None) -> None:
        super().__init__(f"duplicate job: job {existing_id} holds deduplicate key {key!r}")
        self.key = key
        self.existing_id = existing_id

    def __reduce__(self) -> Any:
        return type(self), (self.key, self.existing_id)


class ExpiredError(TaskoraError):
    """The job's ``ttl`` passed before a worker started it."""


class DependencyFailedError(TaskoraError):
    """A workflow node that never ran because a node it depends on failed (a chord body whose group failed).

    Stored on that node's job under this stable name; a front-end may show it as its own type (the Celery
    front raises ``ChordError``)."""


class StalledError(TaskoraError):
    """The job's worker stopped extending its lock more than ``stall.max_count`` times."""


class SchemaVersionMismatchError(TaskoraError):
    """The Redis keyspace was written by a taskora whose wire format this one cannot read or write."""

    def __init__(self, code: str, ours: tuple[int, int], theirs: dict[str, Any]) -> None:
        super().__init__(
            f"{code}: this process speaks wire versions {ours[1]}..{ours[0]}, "
            f"the store was written for {theirs.get('minCompat')}..{theirs.get('wireVersion')} "
            f"by {theirs.get('writtenBy')}"
        )
        self.code = code
        self.ours = ours
        self.theirs = theirs

    @classmethod
    def for_job(cls, code: str, task: str, job_version: int, since: int, version: int) -> SchemaVersionMismatchError:
        """A job whose payload version (``_v``) this worker's task does not accept (versioning.py)."""
        error = cls(code, (version, since), {"version": job_version})
        side = "newer than" if code == "job_too_new" else "older than"
        error.args = (f"task {task!r}: job payload version {job_version} is {side} the versions this worker "
                      f"accepts ({since}..{version}, since..version)",)
        return error


class MigrationError(TaskoraError):
    """A task's migration step raised while upgrading an older job's payload; the job fails, not retried."""


class UnknownTaskError(TaskoraError, KeyError):
    """No task of that name is registered on this app."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else "unknown task"


class BrokerUnreachableError(TaskoraError, ConnectionError):
    """Redis could not be reached; carries the address that was tried.

    ``retryable`` is False when waiting cannot help (the server is not a Redis, or refused the password or
    the database): a worker starting up retries only the other kind, as it waits for a Redis still booting.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class OptionTypeError(ConfigurationError, TypeError):
    """An option was given a value of the wrong type (``countdown="abc"``); both a ValueError and a TypeError,
    so code written against either (Celery raises TypeError here) keeps catching it."""


class JobNotFoundError(TaskoraError, LookupError):
    """No job with that id exists (never dispatched, or removed by retention); waiting on it would never end."""

    def __init__(self, job_id: str, task: str | None = None, replaced_by: str | None = None) -> None:
        why = f"replaced by job {replaced_by!r} (debounce)" if replaced_by else \
            "never dispatched, or already removed by retention"
        super().__init__(f"no job {job_id!r}" + (f" of task {task!r}" if task else "") + f" exists ({why})")
        self.job_id = job_id
        self.task = task
        #: The job that replaced this one, when a debounced dispatch did (taskora/flow_control.py).
        self.replaced_by = replaced_by


#: Error codes raised by the Lua engine (``redis.error_reply('CODE message')``) and what they mean.
ERROR_CODES: dict[str, type[TaskoraError]] = {
    "TASKORA_BADARG": ConfigurationError,
    "TASKORA_META": SchemaVersionMismatchError,
}


def from_engine_reply(text: str) -> TaskoraError:
    """Translate an engine error reply into the matching exception (unknown codes: plain TaskoraError)."""
    code, _, message = text.partition(" ")
    cls = ERROR_CODES.get(code)
    if cls is None or cls is SchemaVersionMismatchError:
        return TaskoraError(text)
    return cls(message or code)


class WorkerLostError(TaskoraError):
    """The process running a job died (a signal, ``os._exit``, a crash in C code) before the job finished.

    Counted as a failed attempt, so the task's retry policy bounds a job that kills its worker every time.
    """


class MalformedJobError(TaskoraError):
    """A claimed job's stored fields cannot be read (e.g. ``attempt`` is not a number); it fails for good."""


class WorkerError(TaskoraError):
    """The worker itself failed while handling a job (not its handler); the job is failed, never left active."""


def error_type_of(detail: str | bytes | None) -> str | None:
    """The exception type name in a failed job's ``errorDetail`` JSON (written by Python workers only), or None."""
    if not detail:
        return None
    try:
        kind = json.loads(detail).get("type")
    except (ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) and kind else None
