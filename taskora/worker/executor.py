"""Runs one job's handler: decode, middleware, the call itself, timeout. No Redis writes here; the
loop turns the Outcome into the matching transition."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..context import Context
from ..errors import TimeoutError, WorkerLostError
from ..middleware import MiddlewareContext, compose
from . import handler_threads, main_thread
from .abandoned import keep_place_until_done
from .interrupt import stop_overrunning
from .limits import soft_limited
from .terminate import Terminator

if TYPE_CHECKING:
    from ..app import Taskora
    from .runtime import JobRuntime


@dataclass
class Outcome:
    """How an attempt ended: ``completed`` (with ``result``), ``failed`` (with ``error``) or ``cancelled``."""

    kind: str
    result: Any = None
    error: BaseException | None = None
    duration: float = 0.0


class AsyncLoop:
    """A private event loop thread for ``async def`` handlers, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, awaitable: Any, on_interrupt: Callable[[Callable[[], Any]], Any] | None = None) -> Any:
        """Run ``awaitable`` on the loop and wait for it; ``on_interrupt(cancel)`` is handed a function that
        cancels it (revoke-terminate). The wait is a loop of short waits so that an interrupt raised in this
        thread (a timeout, interrupt.py) reaches it between them; the coroutine is then cancelled too."""
        future = asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), self._get())
        if on_interrupt is not None:
            on_interrupt(future.cancel)
        try:
            while True:
                try:
                    return future.result(timeout=0.05)
                except concurrent.futures.TimeoutError:
                    continue
        except BaseException:
            future.cancel()
            raise

    def _get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=_run_until_stopped, args=(self._loop,), name="taskora-asyncio",
                                 daemon=True).start()
            return self._loop

    def stop(self) -> None:
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None


def _run_until_stopped(loop: asyncio.AbstractEventLoop) -> None:
    """The loop thread: runs the loop until ``AsyncLoop.stop``, then closes it (an unclosed loop keeps its
    selector's sockets open until garbage collection, and says so with a ResourceWarning)."""
    try:
        loop.run_forever()
    finally:
        loop.close()


#: Result types that are never awaitable: most handlers return one (or None), and ``inspect.isawaitable`` asks an
#: abstract base class, a few microseconds of every job.
_PLAIN_RESULTS = frozenset({dict, list, tuple, str, bytes, int, float, bool})


def _middleware_for(app: Taskora, runtime: JobRuntime) -> list[Any]:
    """The app's and the task's middleware that apply to this job, outermost first."""
    installed, own = app.middleware, runtime.task.options.middleware
    if not installed and not own:  # most apps install none: no tuple to build per job
        return []
    return [m for m in (*installed, *own) if _applies(m, runtime)]


def _applies(middleware: Any, runtime: JobRuntime) -> bool:
    """A middleware may say it has nothing to do for a job (``applies_to(task, fields) -> bool``), so a job
    that needs none of the installed ones keeps the cheapest path (no ctx, no chain)."""
    applies_to = getattr(middleware, "applies_to", None)
    return applies_to is None or bool(applies_to(runtime.task, runtime.fields))


def _exit_as_error(runtime: JobRuntime, exit_: SystemExit) -> WorkerLostError:
    """A handler's ``sys.exit()`` ends its attempt the way a process death does under prefork (Celery reports
    that as WorkerLostError too); here the worker itself carries on."""
    error = WorkerLostError(f"{runtime.task_name} job {runtime.id}: the handler called sys.exit({exit_.code!r}); "
                            "the attempt ends here, the worker carries on")
    error.__cause__ = exit_
    return error


def _stop_in_background(thread: threading.Thread, done: threading.Event, what: str) -> None:
    threading.Thread(target=stop_overrunning, args=(thread, done, what), name="taskora-interrupt",
                     daemon=True).start()


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable


class Executor:
    """Executes jobs for one app; shared by all of a worker's slots."""

    def __init__(self, app: Taskora) -> None:
        self.app = app
        self.async_loop = AsyncLoop()
        #: Stops a handler whose job is revoked with terminate=True (a prefork child sets its kill_process).
        self.terminator = Terminator(app.adapter)

    def execute(self, runtime: JobRuntime) -> Outcome:
        """Run the job's handler: here, or on the main thread of a process that runs handlers there
        (main_thread.py: a prefork child running one job at a time, so signals can interrupt it)."""
        runner = main_thread.runner()
        if runner is None:
            return self._execute_timed(runtime)
        try:
            outcome: Outcome = runner.run_handler(runtime.task_name, soft_limited(self.app, runtime),
                                                  lambda: self._execute_timed(runtime))
        except main_thread.ChildExiting as exc:  # a cold stop gave up on it and handed the job back already
            return Outcome("failed", error=exc)
        return outcome

    def _execute_timed(self, runtime: JobRuntime) -> Outcome:
        started = time.monotonic()
        with self.terminator.running(runtime):
            # a cancel heard between the claim and here found no handler to stop: it never starts
            outcome = Outcome("cancelled") if self.terminator.stopped_before_start(runtime) else self._execute(runtime)
        outcome.duration = time.monotonic() - started
        if runtime.signal.reason == "cancelled":
            outcome.kind = "cancelled"
        return outcome

    def _execute(self, runtime: JobRuntime) -> Outcome:
        task = runtime.task
        try:
            data = task.io.for_handler(runtime.decode_data(), runtime.version)  # migrate, validate
            middleware = _middleware_for(self.app, runtime)
            if not middleware:  # the common, cheapest path: no chain to build (nor a ctx, unless the handler takes one)
                ctx = Context(runtime) if task.accepts_context else None
                result = self._with_timeout(runtime, lambda: self._call_handler(task, data, ctx))
                return Outcome("completed", result=task.io.for_result(result))
            ctx = Context(runtime)
            chain = compose(middleware, lambda mctx: self._call_handler(task, mctx.data, ctx))
            mctx = MiddlewareContext(ctx, data)
            result = self._with_timeout(runtime, lambda: chain(mctx))
            return Outcome("completed", result=task.io.for_result(result))
        except Exception as exc:
            return Outcome("failed", error=exc)
        except SystemExit as exc:  # would end the slot thread and leave the job active until stall recovery
            return Outcome("failed", error=_exit_as_error(runtime, exc))

    def _call_handler(self, task: Any, data: Any, ctx: Context | None) -> Any:
        result = task.handler(data, ctx) if task.accepts_context else task.handler(data)
        if result is not None and type(result) not in _PLAIN_RESULTS and inspect.isawaitable(result):
            result = self.async_loop.run(result, self.terminator.on_terminate_here)
        return result

    def _with_timeout(self, runtime: JobRuntime, call: Callable[[], Any]) -> Any:
        """Run ``call``; past the task's timeout, abort the signal, fail the attempt with TimeoutError and
        interrupt the handler's thread (interrupt.py); whatever it returns after that is dropped.
        """
        timeout = runtime.task.options.timeout
        if timeout is None:
            return call()
        run = handler_threads.start(call, f"taskora-job-{runtime.id}")
        done = run.within(timeout)
        if done is not None:
            what = f"{runtime.task_name} job {runtime.id}"
            runtime.signal.abort("timeout")
            _stop_in_background(run.thread, done, what)
            keep_place_until_done(runtime.id, done, what)  # (abandoned.py)
            raise TimeoutError(f"{what} exceeded its timeout of {timeout}s")
        return run.outcome()
