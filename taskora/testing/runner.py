"""TestRunner: run tasks through the real engine, in memory, on a virtual clock.

Jobs go through the same Lua scripts as production (the in-memory engine), but nothing runs in the
background: ``execute``, ``process_all`` and ``advance_time`` process due work in the calling thread,
and time only moves when the test moves it, so delays, retries with backoff, schedules and TTLs are
tested instantly. ``run`` skips the queue altogether and calls the handler directly.

    runner = TestRunner(from_=app)          # or TestRunner() and runner.task(...) / runner.import_task(t)
    outcome = runner.execute(send_email, {"to": "a@b.c"})
    assert outcome.state == "completed" and outcome.attempts == 1
    runner.dispose()
"""

from __future__ import annotations

from typing import Any

from ..adapters.base import Adapter
from ..app import Taskora
from ..clock import VirtualClock, timed_work
from ..durations import Duration, to_ms
from ..errors import ConfigurationError
from ..handles import ResultHandle
from ..memory import memory_adapter
from ..stream import FINAL_STATES
from ..task import Task
from ..worker.loop import Worker
from .direct import run_inline
from .results import ExecutionResult, read_outcome
from .steps import StepRecorder, WorkflowStep
from .timeline import Timeline

#: How many times ``execute`` jumps the clock to the next due moment before giving up on a job.
MAX_TIME_JUMPS = 1_000
#: Every state a job can be listed in, for ``runner.jobs``.
JOB_STATES = ("waiting", "active", "delayed", "completed", "failed", "expired", "cancelled")


class TestRunner:
    """An app on a private in-memory engine and a virtual clock, processed synchronously.

    Args:
        from_: wrap this existing app (the seeds' ``from`` mode): its tasks, including the module-level
            task objects your code dispatches with, use the runner's engine until ``dispose()``.
        start_ms: where the virtual clock starts (epoch ms); the wall clock by default.
        serializer: the serializer of a standalone runner's app (a wrapped app keeps its own).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, *, from_: Taskora | None = None, start_ms: int | None = None, serializer: Any = None) -> None:
        self.clock = VirtualClock(start_ms)
        self._start_ms = self.clock.now_ms()
        self.adapter = memory_adapter(clock=self.clock)
        self._wrapped: Adapter | None = None
        if from_ is None:
            self.app = Taskora(self.adapter, serializer=serializer)
        else:
            self.app = from_
            self._wrapped = _swap_adapter(from_, self.adapter, serializer)
        self._steps = StepRecorder()
        self.timeline = Timeline(self.app, self.clock, self.process_all)
        #: The runner runs the app's jobs here, so its dispatches wait, as in a worker (taskora/background.py).
        self._ran_jobs_before, self.app._dispatch_waits = self.app._dispatch_waits, True

    @classmethod
    def from_app(cls, app: Taskora, *, start_ms: int | None = None) -> TestRunner:
        """``TestRunner(from_=app)``: wrap a production app until ``dispose()``."""
        return cls(from_=app, start_ms=start_ms)

    # -- tasks --------------------------------------------------------------------------------------
    def import_task(self, task: Task[Any, Any]) -> Task[Any, Any]:
        """The runner's own copy of ``task`` (same handler and options), registered on ``runner.app``."""
        if task.app is self.app:
            return task
        existing = self.app.tasks.get(task.name)
        if existing is not None:
            return existing
        copy: Task[Any, Any] = Task(self.app, task.name, task.handler, task.options)
        self.app.tasks[task.name] = copy
        return copy

    def task(self, *args: Any, **kwargs: Any) -> Any:
        """Declare a task directly on the runner's app (same signature as ``Taskora.task``)."""
        return self.app.task(*args, **kwargs)

    # -- running ------------------------------------------------------------------------------------
    def run(self, task: Task[Any, Any] | str, data: Any = None, *, skip_validation: bool = False) -> Any:
        """Call the handler directly (no queue), middleware included, retrying inline per its policy.

        The input is validated (unless ``skip_validation``) and stamped with the task's version as a dispatch
        would, then migrated/validated and the output validated as a worker would. Returns the handler's
        value; after the last attempt, raises the handler's own exception (or the ``ValidationError``).
        """
        return run_inline(self.app, self._local(task), data, validate=not skip_validation)

    def dispatch(self, task: Task[Any, Any] | str, data: Any = None, **options: Any) -> ResultHandle[Any]:
        """Enqueue only (processed by ``process_all``, ``advance_time`` or ``execute``)."""
        return self._local(task).dispatch(data, **options)

    def execute(self, task: Task[Any, Any] | str, data: Any = None, **options: Any) -> ExecutionResult:
        """Dispatch, process, and jump the clock over delays and retry backoffs until the job is final."""
        handle = self.dispatch(task, data, **options)
        self.timeline.run_due()
        for _ in range(MAX_TIME_JUMPS):
            state = handle.state()
            if state in FINAL_STATES or not self._jump_toward(handle.task, state):
                break
        return read_outcome(handle)

    def _jump_toward(self, task: str, state: str | None) -> bool:
        """Advance to when the job (delayed or retrying: its task's next due job) or anything else is due,
        stepping through whatever falls due on the way; False when nothing is left to wait for."""
        now = self.clock.now_ms()
        due = self.app.adapter.next_due_ms(task) if state in ("delayed", "retrying") else None
        if due is None or due <= now:
            due = self.timeline.next_due(after=now)
        if due is None:
            return False
        self.timeline.advance(due - now)
        return True

    def process_all(self) -> int:
        """Run every job that is due now (and the jobs those dispatch); returns how many ran."""
        worker = Worker(self.app, self.app.tasks.values())
        worker.job_hooks.append(self._steps)
        return worker.run_until_idle()

    def advance_time(self, duration: Duration) -> int:
        """Move the virtual clock forward through every due moment (delayed jobs, retries, schedules,
        TTLs, timed work), running what falls due at each; returns how many jobs ran."""
        return self.timeline.advance(to_ms(duration, name="advance_time"))

    def flush(self, task: Task[Any, Any] | str, key: str | None = None) -> int:
        """Force ``task``'s buffers (collect's, or another registered TimedWork's; one ``key``, or all) out now,
        then process the batch jobs that made; returns how many jobs ran."""
        local = self._local(task)
        flushers = [work.flush for work in timed_work() if work.flush is not None]
        flushed = sum(flush(self.app, local.name, key) for flush in flushers)
        if not flushed and local.options.collect is None:
            raise ConfigurationError(f"flush({local.name!r}): no buffering feature holds items of this task "
                                     f"(it has no collect option)")
        return self.process_all()

    # -- reading ------------------------------------------------------------------------------------
    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Every job the runner knows, with its stored fields (``id`` and ``task`` added)."""
        return [job for name in list(self.app.tasks) for job in self._jobs_of(name)]

    def jobs_of(self, task: Task[Any, Any] | str) -> list[dict[str, Any]]:
        """The jobs of one task, with their stored fields."""
        return self._jobs_of(self._local(task).name)

    @property
    def steps(self) -> list[WorkflowStep]:
        """Every workflow node run so far, in the order they finished."""
        return list(self._steps.steps)

    def clear(self) -> None:
        """Forget every job, schedule run and step, and put the clock back (tasks stay registered)."""
        self.adapter.flush()
        self._steps.clear()
        self.clock.set(self._start_ms)
        self.timeline.reset()

    def dispose(self) -> None:
        """Give a wrapped app its own engine back (``from_`` mode), or close the runner's app."""
        self.clear()
        if self._wrapped is not None:
            self.app.rebind(self._wrapped)
            self._wrapped = None
            self.app._dispatch_waits = self._ran_jobs_before
        else:
            self.app.close()

    # -- helpers ------------------------------------------------------------------------------------
    def _local(self, task: Task[Any, Any] | str) -> Task[Any, Any]:
        if isinstance(task, Task):
            return self.import_task(task)
        return self.app.get_task(task)

    def _jobs_of(self, name: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for state in JOB_STATES:
            for job_id in self.app.adapter.list_ids(name, state):
                job = self.app.adapter.get_job(name, job_id) or {}
                found.append({"id": job_id, "task": name, **job})
        return found


def _swap_adapter(app: Taskora, adapter: Adapter, serializer: Any) -> Adapter:
    """Point ``app`` at the runner's engine; returns the adapter ``dispose()`` gives back."""
    if serializer is not None:
        raise ConfigurationError("TestRunner: serializer= applies to a standalone runner; a wrapped app keeps its own")
    if app._worker is not None or app.scheduler_runner is not None:
        raise ConfigurationError(f"TestRunner: {app!r} is started; close() it before wrapping it in a runner")
    return app.rebind(adapter)


def create_test_runner(*, from_: Taskora | None = None, serializer: Any = None) -> TestRunner:
    """The seeds' factory name: ``create_test_runner(from_=app)`` is ``TestRunner(from_=app)``."""
    return TestRunner(from_=from_, serializer=serializer)
