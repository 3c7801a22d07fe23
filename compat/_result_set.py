"""``ResultSet`` and ``GroupResult``: ordered collections of results joined in order."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._result_base import ResultBase, assert_will_not_block
from ._state import get_current_app

#: How long a failed task's (or group's) ``get()`` waits for its parents to end, so that their error wins.
PARENT_GRACE_S = 1.0

__all__ = ["ResultSet", "GroupResult"]


class ResultSet(ResultBase):
    """An ordered collection of results, joined in order."""

    def __init__(self, results: Iterable[Any], app: Any = None, **kwargs: Any) -> None:
        self.results = list(results)
        self._app = app

    @property
    def app(self) -> Any:
        if self._app is None:
            self._app = self.results[0].app if self.results else get_current_app()
        return self._app

    @property
    def backend(self) -> Any:
        """The backend the results are read from: the app's (Celery's ``ResultSet.backend``)."""
        return self.app.backend

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.results)

    def __getitem__(self, index: int) -> Any:
        return self.results[index]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: [{', '.join(r.id for r in self.results)}]>"

    def add(self, result: Any) -> None:
        if result not in self.results:
            self.results.append(result)

    def remove(self, result: Any) -> None:
        if isinstance(result, str):  # through the app, as Celery does (importing AsyncResult here is a cycle)
            result = self.app.AsyncResult(result)
        self.results.remove(result)

    def discard(self, result: Any) -> None:
        try:
            self.remove(result)
        except (KeyError, ValueError):
            pass

    def update(self, results: Iterable[Any]) -> None:
        self.results.extend(r for r in results if r not in self.results)

    def clear(self) -> None:
        self.results[:] = []

    def successful(self) -> bool:
        return all(r.successful() for r in self.results)

    def failed(self) -> bool:
        return any(r.failed() for r in self.results)

    def waiting(self) -> bool:
        return any(not r.ready() for r in self.results)

    def ready(self) -> bool:
        return all(r.ready() for r in self.results)

    def completed_count(self) -> int:
        """How many results are SUCCESS (failures are not counted, as in Celery)."""
        return sum(int(r.successful()) for r in self.results)

    def maybe_throw(self, callback: Callable[..., Any] | None = None, propagate: bool = True) -> None:
        for result in self.results:
            result.maybe_throw(callback=callback, propagate=propagate)

    maybe_reraise = maybe_throw

    def revoke(self, connection: Any = None, terminate: bool = False, signal: Any = None, wait: bool = False,
               timeout: float | None = None) -> None:  # fmt: skip
        for result in self.results:
            result.revoke(terminate=terminate, signal=signal)

    def forget(self) -> None:
        for result in self.results:
            result.forget()

    def join(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5,
             callback: Callable[..., Any] | None = None, no_ack: bool = True, on_message: Any = None,
             disable_sync_subtasks: bool = True, on_interval: Any = None) -> list[Any]:  # fmt: skip
        """Every value in order; ``timeout`` is one budget for the whole set."""
        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        values = []
        for result in self.results:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            value = result.get(timeout=remaining, propagate=propagate, interval=interval,
                               disable_sync_subtasks=False)
            if callback is not None:
                callback(result.id, value)
            else:
                values.append(value)
        return values

    join_native = join
    get = join

    def iterate(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5) -> Iterator[Any]:
        for result in self.results:
            yield result.get(timeout=timeout, propagate=propagate, interval=interval)

    @property
    def supports_native_join(self) -> bool:
        return True


class GroupResult(ResultSet):
    """The results of a group, with the group's id (canvas extends it with save/restore)."""

    def __init__(self, id: str | None = None, results: Iterable[Any] | None = None, parent: Any = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(results or [], **kwargs)
        self.id = id
        self.parent = parent

    @property
    def children(self) -> list[Any]:
        return self.results

    def __str__(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.id} [{', '.join(r.id for r in self.results)}]>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GroupResult):
            return other.id == self.id and other.results == self.results
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def get(self, timeout: float | None = None, propagate: bool = True, *args: Any, **kwargs: Any) -> list[Any]:
        """Every value in order; a failed member of a group that follows a failed group (a chord body after its
        header) raises that group's error, as Celery's members, which follow their parents, do."""
        try:
            return self.join(timeout, propagate, *args, **kwargs)
        except Exception as error:
            if propagate and isinstance(self.parent, ResultSet):
                self._throw_parents_error(error)
            raise

    def _throw_parents_error(self, error: Exception) -> None:
        """Raise the parent group's error when it failed. A body is settled a moment before the header member that
        failed ends (the workflow moves first), so the parent gets ``PARENT_GRACE_S`` to end too."""
        from .exceptions import TimeoutError as ResultTimeout

        try:
            self.parent.join(timeout=PARENT_GRACE_S, propagate=True, disable_sync_subtasks=False)
        except ResultTimeout:
            raise error from None

    def as_tuple(self) -> tuple[Any, Any]:
        parent = self.parent
        return (self.id, parent.as_tuple() if parent is not None else None), [r.as_tuple() for r in self.results]
