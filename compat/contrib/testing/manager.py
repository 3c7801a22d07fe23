"""``Manager``: the waiting and asserting helpers Celery's integration tests use against a live worker.

Task states come from taskora's job store (every job is a record there), so ``assert_received`` and
``assert_accepted`` need no broadcast to workers: a waiting job is "reserved", a running one "active",
a finished one "ready" (Celery's ``inspect().query_task`` vocabulary).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, TextIO

from kombu.utils.functional import retry_over_time

from taskora.adapters.base import CONNECTION_ERRORS

from ... import states
from ...exceptions import TimeoutError as CeleryTimeoutError
from ...result import ResultSet

__all__ = ["Manager", "ManagerMixin", "Sentinel"]

E_STILL_WAITING = "Still waiting for {0}.  Trying again {when}: {exc!r}"
_QUERY_STATE = {states.PENDING: "reserved", states.RECEIVED: "reserved", states.STARTED: "active",
                states.RETRY: "reserved"}


class Sentinel(Exception):
    """Raised by a check that is not true yet; :meth:`ManagerMixin.wait_for` retries on it."""


class ManagerMixin:
    """Helpers bound to ``self.app``: wait for a condition, join results, query task states."""

    app: Any

    def _init_manager(self, block_timeout: float = 30 * 60.0, no_join: bool = False, stdout: TextIO | None = None,
                      stderr: TextIO | None = None) -> None:  # fmt: skip
        self.stdout = sys.stdout if stdout is None else stdout
        self.stderr = sys.stderr if stderr is None else stderr
        self.connerrors = CONNECTION_ERRORS
        self.block_timeout = block_timeout
        self.no_join = no_join

    def remark(self, s: str, sep: str = "-") -> None:
        print(f"{sep}{s}", file=self.stdout)

    def warn(self, s: str) -> None:
        self.stderr.write(s + "\n")

    def missing_results(self, r: Iterable[Any]) -> list[str]:
        """Ids of the results that are not ready yet."""
        return [res.id for res in r if not res.ready()]

    def wait_for(self, fun: Callable[..., Any], catch: Sequence[type[BaseException]], desc: str = "thing",
                 args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None, errback: Any = None,
                 max_retries: int | None = 10, interval_start: float = 0.1, interval_step: float = 0.5,
                 interval_max: float = 5.0, emit_warning: bool = False, **options: Any) -> Any:  # fmt: skip
        """Call ``fun`` until it stops raising one of ``catch`` (then return its value), backing off between."""

        def on_error(exc: BaseException, intervals: Iterator[float], retries: int) -> float:
            interval = next(intervals)
            if emit_warning:
                self.warn(E_STILL_WAITING.format(desc, when=f"in {interval:.2f}s", exc=exc))
            if errback:
                errback(exc, interval, retries)
            return interval

        return self.retry_over_time(fun, tuple(catch), args=args, kwargs=kwargs or {}, errback=on_error,
                                    max_retries=max_retries, interval_start=interval_start,
                                    interval_step=interval_step, interval_max=interval_max, **options)

    def ensure_not_for_a_while(self, fun: Callable[..., Any], catch: Sequence[type[BaseException]],
                               desc: str = "thing", max_retries: int = 20, interval_start: float = 0.1,
                               interval_step: float = 0.02, interval_max: float = 1.0, emit_warning: bool = False,
                               **options: Any) -> None:  # fmt: skip
        """Assert that ``fun`` keeps raising ``catch`` for the whole retry budget."""
        try:
            self.wait_for(fun, catch, desc=desc, max_retries=max_retries, interval_start=interval_start,
                          interval_step=interval_step, interval_max=interval_max, emit_warning=emit_warning)
        except tuple(catch):
            return
        raise AssertionError(f"Should not have happened: {desc}")

    def retry_over_time(self, *args: Any, **kwargs: Any) -> Any:
        return retry_over_time(*args, **kwargs)

    def join(self, r: Any, propagate: bool = False, max_retries: int = 10, **kwargs: Any) -> Any:
        """``r.get()`` (a result or a ResultSet), retrying on timeouts and naming what is still missing."""
        if self.no_join:
            return None
        if not isinstance(r, ResultSet):
            r = self.app.ResultSet([r])
        for _ in range(max_retries) if max_retries else iter(int, 1):
            try:
                return r.get(propagate=propagate, **kwargs)
            except CeleryTimeoutError as exc:
                waiting = self.missing_results(r)
                self.remark(f"Still waiting for {len(waiting)}/{len(r)}: [{', '.join(waiting)[:200]}]: {exc!r}", "!")
            except self.connerrors as exc:
                self.remark(f"join: connection lost: {exc!r}", "!")
        raise AssertionError("Test failed: Missing task results")

    def inspect(self, timeout: float = 3.0) -> Any:
        return self.app.control.inspect(timeout=timeout)

    def query_tasks(self, ids: Iterable[str], timeout: float = 0.5) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(node, {id: [state, info]})`` for the known jobs among ``ids``, read from the job store."""
        reply = {}
        for task_id in ids:
            result = self.app.AsyncResult(task_id)
            if result._handle() is None:
                continue
            state = result.state
            reply[task_id] = [_QUERY_STATE.get(state, "ready"), {"id": task_id, "state": state}]
        if reply:
            yield "taskora@store", reply

    def query_task_states(self, ids: Iterable[str], timeout: float = 0.5) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for _, reply in self.query_tasks(ids, timeout=timeout):
            for task_id, (state, _) in reply.items():
                found[state].add(task_id)
        return found

    def assert_accepted(self, ids: Sequence[str], interval: float = 0.5,
                        desc: str = "waiting for tasks to be accepted", **policy: Any) -> Any:  # fmt: skip
        return self.assert_task_worker_state(self.is_accepted, ids, interval=interval, desc=desc, **policy)

    def assert_received(self, ids: Sequence[str], interval: float = 0.5,
                        desc: str = "waiting for tasks to be received", **policy: Any) -> Any:  # fmt: skip
        return self.assert_task_worker_state(self.is_received, ids, interval=interval, desc=desc, **policy)

    def assert_result_tasks_in_progress_or_completed(self, async_results: Sequence[Any], interval: float = 0.5,
                                                     desc: str = "waiting for tasks to be started or completed",
                                                     **policy: Any) -> Any:  # fmt: skip
        return self.assert_task_state_from_result(self.is_result_task_in_progress, async_results,
                                                  interval=interval, desc=desc, **policy)

    def assert_task_state_from_result(self, fun: Callable[..., Any], results: Sequence[Any], interval: float = 0.5,
                                      **policy: Any) -> Any:  # fmt: skip
        return self.wait_for(partial(self.true_or_raise, fun, results, timeout=interval), (Sentinel,), **policy)

    @staticmethod
    def is_result_task_in_progress(results: Sequence[Any], **kwargs: Any) -> bool:
        return all(result.state in (states.STARTED, states.SUCCESS) for result in results)

    def assert_task_worker_state(self, fun: Callable[..., Any], ids: Sequence[str], interval: float = 0.5,
                                 **policy: Any) -> Any:  # fmt: skip
        return self.wait_for(partial(self.true_or_raise, fun, ids, timeout=interval), (Sentinel,), **policy)

    def is_received(self, ids: Sequence[str], **kwargs: Any) -> bool:
        return self._ids_matches_state(["reserved", "active", "ready"], ids, **kwargs)

    def is_accepted(self, ids: Sequence[str], **kwargs: Any) -> bool:
        return self._ids_matches_state(["active", "ready"], ids, **kwargs)

    def _ids_matches_state(self, expected_states: Sequence[str], ids: Sequence[str], timeout: float = 0.5) -> bool:
        found = self.query_task_states(ids, timeout=timeout)
        return all(any(t in found[k] for k in expected_states) for t in ids)

    def true_or_raise(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        res = fun(*args, **kwargs)
        if not res:
            raise Sentinel()
        return res

    def wait_until_idle(self, timeout: float = 60.0) -> None:
        """Purge waiting jobs, then wait until no worker runs a job; AssertionError after ``timeout`` seconds.

        Why a limit (Celery waits forever): a job that never ends would otherwise hang the test run in a
        fixture teardown, where no per-test timeout applies any more.
        """
        control = self.app.control
        while control.purge():
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            active = control.inspect().active() or {}
            if not sum(len(jobs) for jobs in active.values()):
                return
            time.sleep(0.05)  # no event says "idle"; the workers' active lists are polled
        raise AssertionError(f"workers still busy after {timeout}s: {control.inspect().active()}")


class Manager(ManagerMixin):
    """Test helpers for task integration tests, bound to ``app``."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self.app = app
        self._init_manager(**kwargs)
