"""``TestRunner.run``: call a task's handler directly, with its middleware and an inline retry loop.

No queue is involved (the seeds' run-vs-execute): the data is validated by the task's input schema and
stamped with its payload version as ``dispatch`` would (a ``ValidationError`` is raised at the call, before
any attempt), goes through the serializer as a dispatch would send it, is migrated and validated again and
the result validated by the output schema as a worker does (the executor's own path). The app's and the
task's middleware run around the handler with a real ``ctx`` whose progress and logs go nowhere, and a
failed attempt is retried at once while the task's retry policy allows it. The last error is raised as the
handler raised it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..adapters.base import ClaimedJob
from ..errors import ConfigurationError, RetryError, TaskoraError
from ..ids import random_uuid
from ..retry import should_retry
from ..worker.executor import Executor
from ..worker.runtime import JobRuntime

if TYPE_CHECKING:
    from ..app import Taskora
    from ..task import Task


class InlineRuntime(JobRuntime):
    """A job that exists only in this call: heartbeats, progress and logs are kept here, not stored."""

    def __init__(self, app: Taskora, task: Task[Any, Any], fields: dict[str, Any]) -> None:
        super().__init__(task, ClaimedJob(task.name, fields["id"], "", fields), app.adapter, app.serializer, 0)
        self.progress: Any = None
        self.logs: list[dict[str, Any]] = []

    def heartbeat(self) -> None:
        """Nothing holds a lock on an inline job."""

    def report_progress(self, value: Any) -> None:
        self.check_serializable(value)
        self.progress = value

    def write_log(self, level: str, message: str, meta: dict[str, Any]) -> None:
        self.logs.append({"level": level, "message": message, "meta": meta or None,
                          "timestamp": self._adapter.now_ms()})


def run_inline(app: Taskora, task: Task[Any, Any], data: Any, *, validate: bool = True) -> Any:
    """Run ``task``'s handler on ``data`` until it succeeds or its retry policy gives up; return its value.
    ``validate`` False skips the dispatch-side input check (``skip_validation``); the worker side always checks."""
    if task.handler is None:
        raise ConfigurationError(f"run: task {task.name!r} has no handler in this process (a contract?); "
                                 f"implement it before running it")
    executor = Executor(app)
    policy = task.options.retry
    encoded = app.serializer.dumps(task.io.for_dispatch(data, validate and app.validate_on_dispatch))
    job_id = random_uuid()
    attempt = 1
    while True:
        fields = {"id": job_id, "data": encoded, "attempt": str(attempt), "maxAttempts": str(policy.attempts),
                  "ts": str(app.adapter.now_ms()), "_v": str(task.options.version)}
        outcome = executor.execute(InlineRuntime(app, task, fields))
        if outcome.kind == "completed":
            return outcome.result
        error = outcome.error
        if error is None:  # only a cancel ends an attempt without an error, and nothing cancels an inline job
            raise TaskoraError(f"run: {task.name} ended its attempt {attempt} as {outcome.kind!r}")
        if not should_retry(policy, error, attempt):
            raise error
        if isinstance(error, RetryError) and error.data is not RetryError.KEEP_DATA:
            encoded = app.serializer.dumps(error.data)
        attempt += 1
