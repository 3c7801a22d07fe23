"""TestRunner: run tasks through the real engine, in memory, on a virtual clock.

Jobs go through the same Lua scripts as production (the in-memory engine), but nothing runs in the
background: ``execute`` and ``advance_time`` process due work in the calling thread, and time only
moves when the test moves it, so delays, retries with backoff and TTLs are tested instantly.

    runner = TestRunner.from_app(app)
    outcome = runner.execute(send_email, {"to": "a@b.c"})
    assert outcome.state == "completed" and outcome.attempts == 1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .app import Taskora
from .clock import VirtualClock
from .durations import Duration, to_seconds
from .errors import TaskoraError
from .handles import ResultHandle
from .memory import memory_adapter
from .stream import FINAL_STATES
from .task import Task
from .worker.loop import Worker

#: How many times ``execute`` jumps the clock to the next due job before giving up on a job.
MAX_TIME_JUMPS = 1_000


@dataclass
class ExecutionResult:
    """What ``TestRunner.execute`` saw: the job's final state and everything it recorded."""

    id: str
    state: str | None
    result: Any = None
    error: str | None = None
    attempts: int = 0
    progress: Any = None
    logs: list[dict[str, Any]] = field(default_factory=list)


class TestRunner:
    """An app on a private in-memory engine and a virtual clock, processed synchronously."""

    __test__ = False  # not a pytest test class

    def __init__(self, *, start_ms: int | None = None, serializer: Any = None) -> None:
        self.clock = VirtualClock(start_ms)
        self.adapter = memory_adapter(clock=self.clock)
        self.app = Taskora(self.adapter, serializer=serializer)

    @classmethod
    def from_app(cls, app: Taskora) -> TestRunner:
        """A runner holding copies of every task (and the middleware) of a production ``app``."""
        runner = cls(serializer=app.serializer)
        for mw in app.middleware:
            runner.app.use(mw)
        for task in app.tasks.values():
            runner.import_task(task)
        return runner

    def import_task(self, task: Task[Any, Any]) -> Task[Any, Any]:
        """Register a copy of ``task`` (same handler and options) on the runner's app."""
        existing = self.app.tasks.get(task.name)
        if existing is not None:
            return existing
        copy: Task[Any, Any] = Task(self.app, task.name, task.handler, task.options)
        self.app.tasks[task.name] = copy
        return copy

    def task(self, *args: Any, **kwargs: Any) -> Any:
        """Declare a task directly on the runner's app (same signature as ``Taskora.task``)."""
        return self.app.task(*args, **kwargs)

    # -- dispatching and processing -----------------------------------------------------------------
    def dispatch(self, task: Task[Any, Any] | str, data: Any = None, **options: Any) -> ResultHandle[Any]:
        return self._local(task).dispatch(data, **options)

    def process_all(self) -> int:
        """Run every job that is due now (and the jobs those dispatch); returns how many ran."""
        return Worker(self.app, self.app.tasks.values()).run_until_idle()

    def advance_time(self, duration: Duration) -> int:
        """Move the virtual clock forward, then run whatever became due."""
        self.clock.advance(to_seconds(duration, name="advance_time"))
        return self.process_all()

    def execute(self, task: Task[Any, Any] | str, data: Any = None, **options: Any) -> ExecutionResult:
        """Dispatch, process, and jump the clock over delays and retry backoffs until the job is final."""
        handle = self.dispatch(task, data, **options)
        for _ in range(MAX_TIME_JUMPS):
            self.process_all()
            if handle.state() in FINAL_STATES:
                break
            due = self._next_due_ms()
            if due is None:
                break
            self.clock.set(max(due, self.clock.now_ms()))
        return self._outcome(handle)

    def run(self, task: Task[Any, Any] | str, data: Any = None, **options: Any) -> Any:
        """Like ``execute`` but returns the handler's result, or raises the job's error."""
        outcome = self.execute(task, data, **options)
        return self.app.handle(self._local(task).name, outcome.id).result(timeout=0)

    # -- reading ------------------------------------------------------------------------------------
    def jobs(self, task: Task[Any, Any] | str | None = None) -> list[dict[str, Any]]:
        """Every job the runner knows, with its stored fields (``id`` and ``task`` added)."""
        names = [self._local(task).name] if task is not None else list(self.app.tasks)
        found: list[dict[str, Any]] = []
        for name in names:
            for state in ("waiting", "active", "delayed", "completed", "failed", "expired", "cancelled"):
                for job_id in self.app.adapter.list_ids(name, state):
                    job = self.app.adapter.get_job(name, job_id) or {}
                    found.append({"id": job_id, "task": name, **job})
        return found

    def clear(self) -> None:
        """Forget every job (tasks stay registered)."""
        self.adapter.flush()

    def dispose(self) -> None:
        self.app.close()

    # -- helpers ------------------------------------------------------------------------------------
    def _local(self, task: Task[Any, Any] | str) -> Task[Any, Any]:
        if isinstance(task, Task):
            return self.import_task(task)
        return self.app.get_task(task)

    def _next_due_ms(self) -> int | None:
        due = [self.app.adapter.next_due_ms(name) for name in self.app.tasks]
        pending = [d for d in due if d is not None]
        return min(pending) if pending else None

    def _outcome(self, handle: ResultHandle[Any]) -> ExecutionResult:
        fields = handle.fields() or {}
        outcome = ExecutionResult(id=handle.id, state=fields.get("state"), error=fields.get("error"),
                                  attempts=int(fields.get("attempt", 0)), logs=handle.logs(),
                                  progress=handle.progress())
        if outcome.state == "completed":
            try:
                outcome.result = handle.result(timeout=0)
            except TaskoraError:
                outcome.result = None
        return outcome
