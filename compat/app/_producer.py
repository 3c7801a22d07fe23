"""``app.producer_or_acquire()``: Celery's producer, for code that publishes many tasks in a row.

Publishing goes out at once, as through any Celery producer. Inside ``producer.batch()`` (kombu
5.7's batch API) publishes are collected and sent together when the block ends, in one round
trip per engine task, the way kombu pipelines the batch's LPUSHes. Results (``AsyncResult``) are
returned at once either way: their ids are chosen before sending.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Producer:
    """A publisher bound to one app; only ``batch()`` changes how (when) messages are sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._pending: list[tuple[Any, Any, dict[str, Any]]] | None = None

    @property
    def batching(self) -> bool:
        return self._pending is not None

    def defer(self, engine_task: Any, data: Any, options: dict[str, Any]) -> None:
        """Keep one dispatch for the end of the current ``batch()`` block."""
        assert self._pending is not None
        self._pending.append((engine_task, data, options))

    @contextmanager
    def batch(self) -> Iterator[Producer]:
        """Collect the publishes of the block; send them when it ends (also when it raises)."""
        if self._pending is not None:  # nested: the outer block sends
            yield self
            return
        self._pending = []
        try:
            yield self
        finally:
            pending, self._pending = self._pending, None
            self._flush(pending)

    def _flush(self, pending: list[tuple[Any, Any, dict[str, Any]]]) -> None:
        from ._publish import broker_errors

        by_task: dict[str, tuple[Any, list[tuple[Any, dict[str, Any]]]]] = {}
        for engine_task, data, options in pending:
            by_task.setdefault(engine_task.name, (engine_task, []))[1].append((data, options))
        with broker_errors(self.app):
            for engine_task, items in by_task.values():
                engine_task.dispatch_many(items)

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


@contextmanager
def producer_or_acquire(app: Any, producer: Producer | None = None) -> Iterator[Producer]:
    yield producer if producer is not None else Producer(app)
