"""Celery's exception names (``celery.exceptions``), rooted in taskora's error tree.

Two contracts meet here:

* Celery code must keep working unchanged: ``except Retry``, ``isinstance(e, TaskError)``,
  ``except NotRegistered`` catching a ``KeyError``, ``SoftTimeLimitExceeded`` being a plain
  ``Exception`` (so a broad ``except Exception`` in a handler catches it, as with billiard; it and
  ``TimeLimitExceeded`` *are* taskora's classes, the ones its workers raise) and
  ``TimeoutError`` *not* being the builtin one. So Celery's own hierarchy is kept class for class.
* taskora code that only knows the native tree should see compat errors for what they mean: the root
  ``CeleryError`` is a ``TaskoraError``, ``TimeoutError`` is also ``taskora.errors.TimeoutError``,
  ``TaskRevokedError`` is a ``CancelledError``, ``ImproperlyConfigured`` a ``ConfigurationError``,
  and so on.

The reverse is not automatic: a native ``taskora.errors.TimeoutError`` is not a compat
``TimeoutError``, so the compat layer translates native errors at its boundary (result waits,
publishing) before Celery code sees them.

``OperationalError``, ``EncodeError`` and ``DecodeError`` subclass kombu's classes, because Celery
projects import those from ``kombu.exceptions`` (an import path the migration does not rewrite).
"""

from __future__ import annotations

import numbers
from types import TracebackType
from typing import Any, NoReturn

import click
from kombu.exceptions import DecodeError as _KombuDecodeError
from kombu.exceptions import EncodeError as _KombuEncodeError
from kombu.exceptions import OperationalError as _KombuOperationalError

from taskora import errors as _native

__all__ = [
    "reraise",
    # warnings
    "CeleryWarning",
    "AlwaysEagerIgnored",
    "DuplicateNodenameWarning",
    "DuplicateTaskNameWarning",
    "FixupWarning",
    "NotConfigured",
    "SecurityWarning",
    "CPendingDeprecationWarning",
    "CDeprecationWarning",
    # core errors
    "CeleryError",
    "ImproperlyConfigured",
    "SecurityError",
    # messaging / serialization
    "OperationalError",
    "EncodeError",
    "DecodeError",
    # task predicates
    "TaskPredicate",
    "Ignore",
    "Reject",
    "Retry",
    "RetryTaskError",
    # task errors
    "TaskError",
    "QueueNotFound",
    "IncompleteStream",
    "NotRegistered",
    "AlreadyRegistered",
    "TimeoutError",
    "MaxRetriesExceededError",
    "TaskRevokedError",
    "InvalidTaskError",
    "ChordError",
    # result backend
    "BackendError",
    "BackendGetMetaError",
    "BackendStoreError",
    # pool (billiard) errors
    "SoftTimeLimitExceeded",
    "TimeLimitExceeded",
    "WorkerLostError",
    "Terminated",
    # worker shutdown
    "WorkerShutdown",
    "WorkerTerminate",
    "SystemTerminate",
    "CeleryCommandException",
]


def reraise(tp: type[BaseException] | None, value: BaseException, tb: TracebackType | None = None) -> NoReturn:
    """Re-raise ``value`` with traceback ``tb`` (Celery's helper; ``tp`` is accepted and unused)."""
    if value.__traceback__ is not tb:
        raise value.with_traceback(tb)
    raise value


# --- warnings -----------------------------------------------------------------------------------


class CeleryWarning(UserWarning):
    """Base of the warnings Celery code filters on."""


class AlwaysEagerIgnored(CeleryWarning):
    """``send_task`` is never eager: it publishes even with ``task_always_eager`` set."""


class DuplicateNodenameWarning(CeleryWarning):
    """Two workers answered with the same node name."""


class DuplicateTaskNameWarning(CeleryWarning):
    """A second, different function was declared under an existing task name (the first is kept)."""


class FixupWarning(CeleryWarning):
    """A framework fix-up (Django) could not be applied."""


class NotConfigured(CeleryWarning):
    """The app is used without any configuration having been loaded."""


class SecurityWarning(CeleryWarning):
    """A potentially unsafe setting (e.g. pickle accepted) is in use."""


class CPendingDeprecationWarning(PendingDeprecationWarning):
    """Celery's pending-deprecation category (kept so warning filters keep matching)."""


class CDeprecationWarning(DeprecationWarning):
    """Celery's deprecation category (kept so warning filters keep matching)."""


# --- core ---------------------------------------------------------------------------------------


class CeleryError(_native.TaskoraError):
    """Root of Celery's errors; a ``TaskoraError`` so native ``except TaskoraError`` sees it too."""


class ImproperlyConfigured(CeleryError, _native.ConfigurationError):
    """The configuration is invalid (mixed old/new setting names, a bad ``task_routes``, …)."""


class SecurityError(CeleryError):
    """An unsafe payload was refused (e.g. a stored "exception" whose class is not an exception)."""


class OperationalError(_KombuOperationalError, _native.BrokerUnreachableError):
    """Publishing failed because the broker (Redis) could not be reached.

    Celery re-exports kombu's class, so ``except kombu.exceptions.OperationalError`` must catch it;
    it is also taskora's ``BrokerUnreachableError`` (and therefore a ``ConnectionError``).
    """


class EncodeError(_KombuEncodeError, _native.SerializationError):
    """Arguments or a result could not be serialized (kombu's ``EncodeError``, taskora's
    ``SerializationError``)."""


class DecodeError(_KombuDecodeError, _native.SerializationError):
    """A stored payload could not be deserialized (kombu's ``DecodeError``)."""


# --- task predicates (control flow raised inside tasks) -----------------------------------------


class TaskPredicate(CeleryError):
    """Base of the exceptions a task raises to steer the worker rather than to report a failure."""


class Retry(TaskPredicate):
    """Raised by ``task.retry()``: the task will run again (a new attempt has been scheduled).

    Attributes mirror Celery: ``message``, ``exc`` (the exception that caused the retry, or None),
    ``excs`` (its repr, or the string given as ``exc``), ``when`` (countdown seconds or an ETA),
    ``is_eager`` and ``sig`` (the signature of the retry, used by eager mode to re-run at once).
    """

    def __init__(
        self,
        message: str | None = None,
        exc: BaseException | str | None = None,
        when: Any = None,
        is_eager: bool = False,
        sig: Any = None,
        **kwargs: Any,
    ) -> None:
        self.message = message
        if isinstance(exc, str):
            self.exc: BaseException | None = None
            self.excs: str | None = exc
        else:
            self.exc = exc
            self.excs = _safe_repr(exc) if exc is not None else None
        self.when = when
        self.is_eager = is_eager
        self.sig = sig
        super().__init__(message, exc, when)

    def humanize(self) -> str:
        """``"in 180s"`` for a countdown, ``"at <eta>"`` for an ETA."""
        if isinstance(self.when, numbers.Number):
            return f"in {self.when}s"
        return f"at {self.when}"

    def __str__(self) -> str:
        if self.message:
            return self.message
        if self.excs:
            return f"Retry {self.humanize()}: {self.excs}"
        return f"Retry {self.humanize()}"


#: Celery's old name for :class:`Retry`.
RetryTaskError = Retry


class Ignore(TaskPredicate):
    """Raise in a task to stop without storing any state (the last stored state stays)."""


class Reject(TaskPredicate):
    """Raise in a task to reject its message; ``requeue=True`` puts it back on the queue."""

    def __init__(self, reason: Any = None, requeue: bool = False) -> None:
        self.reason = reason
        self.requeue = requeue
        super().__init__(reason, requeue)

    def __repr__(self) -> str:
        return f"reject requeue={self.requeue}: {self.reason}"


# --- task errors --------------------------------------------------------------------------------


class TaskError(CeleryError):
    """Base of errors about a task (registry, routing, results)."""


class QueueNotFound(KeyError, TaskError):
    """A task was routed to a queue missing from ``task_queues`` while
    ``task_create_missing_queues`` is False."""


class IncompleteStream(TaskError):
    """A message body ended early."""


class NotRegistered(_native.UnknownTaskError, TaskError):
    """No task of that name is registered (a ``KeyError``, as ``app.tasks[name]`` raises it)."""

    def __str__(self) -> str:
        # Celery keeps KeyError's quoting: str(NotRegistered("x")) == "'x'".
        return KeyError.__str__(self)

    def __repr__(self) -> str:
        return f"Task of kind {self} is not registered; make sure the module defining it is imported."


class AlreadyRegistered(TaskError):
    """A task of that name is already registered."""


class TimeoutError(TaskError, _native.TimeoutError):  # noqa: A001 - Celery's name
    """``AsyncResult.get(timeout=…)`` ran out of time.

    Not the builtin ``TimeoutError`` (Celery code relies on that); it is taskora's ``TimeoutError``.
    """


class MaxRetriesExceededError(TaskError):
    """``task.retry()`` was called past ``max_retries`` without an ``exc`` to re-raise.

    ``task_args``/``task_kwargs`` carry the arguments of the exhausted call.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.task_args = kwargs.pop("task_args", [])
        self.task_kwargs = kwargs.pop("task_kwargs", {})
        super().__init__(*args, **kwargs)


class _CancelledLike(_native.CancelledError):
    """A ``CancelledError`` that keeps Celery's free-form constructor arguments."""

    def __init__(self, *args: Any) -> None:
        Exception.__init__(self, *args)
        self.job_id = None  # type: ignore[assignment]  # Celery's form names no job: str elsewhere
        self.reason = str(args[0]) if args else None


class TaskRevokedError(TaskError, _CancelledLike):
    """The task was revoked or expired (``TaskRevokedError('revoked')`` / ``('expired')``)."""


class InvalidTaskError(TaskError):
    """A task message is malformed."""


class ChordError(TaskError):
    """A chord body could not run because a header task failed."""


# --- result backend -----------------------------------------------------------------------------


class BackendError(_native.TaskoraError):
    """Reading or writing the result store failed."""


class BackendGetMetaError(BackendError):
    """Reading a task's stored state failed; ``task_id`` names it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args)
        self.task_id: str = kwargs.get("task_id", "")

    def __repr__(self) -> str:
        return f"{super().__repr__()} task_id:{self.task_id}"


class BackendStoreError(BackendError):
    """Storing a task's state failed; ``state`` and ``task_id`` name what was being stored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args)
        self.state: str = kwargs.get("state", "")
        self.task_id: str = kwargs.get("task_id", "")

    def __repr__(self) -> str:
        return f"{super().__repr__()} state:{self.state} task_id:{self.task_id}"


# --- pool errors (billiard's in Celery) ---------------------------------------------------------


#: Raised *inside* the task when its soft time limit passes, so it can clean up. The very class the
#: worker raises (taskora's), so ``except SoftTimeLimitExceeded:`` in a Celery task catches it; a
#: plain ``Exception`` subclass (a broad ``except Exception`` swallows it, as in Celery).
SoftTimeLimitExceeded = _native.SoftTimeLimitExceeded
#: The hard time limit passed (child killed, or thread abandoned); the job is failed with it, so
#: ``except TimeLimitExceeded:`` around ``result.get()`` catches the rebuilt error.
TimeLimitExceeded = _native.TimeLimitExceeded


class WorkerLostError(_native.StalledError):
    """The process running the task died (SIGKILL, OOM) before reporting an outcome."""


class Terminated(_CancelledLike):
    """The task was terminated on request (``revoke(terminate=True)``)."""


# --- worker shutdown ----------------------------------------------------------------------------


class WorkerShutdown(SystemExit):
    """Raise to ask the worker for a warm shutdown (finish running tasks, then exit)."""


class WorkerTerminate(SystemExit):
    """Raise to ask the worker for a cold shutdown (exit without waiting for running tasks)."""


#: Celery's old name for :class:`WorkerTerminate`.
SystemTerminate = WorkerTerminate


class CeleryCommandException(click.ClickException):
    """A command-line error carrying the exit code the command should end with."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message=message)
        self.exit_code = exit_code  # type: ignore[misc, unused-ignore]  # a ClassVar in click >= 8.5; a per-error code is intended


def _safe_repr(value: object) -> str:
    """``repr`` that never raises (a broken ``__repr__`` must not hide the retry itself)."""
    try:
        return repr(value)
    except Exception:  # any failure falls back to a generic description
        return f"<unrepresentable {type(value).__name__}>"
