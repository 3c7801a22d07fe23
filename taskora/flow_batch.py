"""Flow control in ``dispatch_many``: which items of a batch take which path.

``deduplicate`` items go with the batch's plain items in one script call (lua/deduplicate_many.lua), each
item decided atomically in order, so two items with one key create one job and the handles say which
were deduplicated, as ``dispatch`` does. ``throttle`` and ``debounce`` items are dispatched one by one in
their order, as TypeScript taskora's ``dispatchMany`` does for every flow option: a throttle admits or
refuses each item, a debounce keeps the last item of its key; each costs its own round trip.
``throw_on_reject`` is refused: the batch is written in one go, and one refused item cannot stop the
others; each handle's ``enqueued``/``existing_id`` tells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .adapters.base import FlowRequest
from .errors import ConfigurationError
from .flow_control import DISPATCH_FLOW_OPTIONS, FlowControl, dispatch_flow, outcome_handle, parse_flow, without_flow
from .handles import ResultHandle

if TYPE_CHECKING:
    from .task import Task

Item = tuple[Any, Mapping[str, Any]]


def has_flow(items: Sequence[Item]) -> bool:
    """Whether any item of the batch asks for flow control (the plain batch skips this module)."""
    return any(options and not DISPATCH_FLOW_OPTIONS.isdisjoint(options) for _, options in items)


def dispatch_many(task: Task[Any, Any], items: Sequence[Item]) -> list[ResultHandle[Any]]:
    """``task.dispatch_many`` of a batch with flow control; every item is checked before anything is written."""
    where = f"{task.name}.dispatch_many"
    flows = [_item_flow(f"{where} (item {i})", options) for i, (_, options) in enumerate(items)]
    requests = [task.build_request(data, without_flow(options)) for data, options in items]
    batched = [i for i, flow in enumerate(flows) if flow is None or flow.request.kind == "deduplicate"]
    outcomes = task.app.adapter.enqueue_many_deduplicated(
        [requests[i] for i in batched], [_request_of(flows[i]) for i in batched])
    handles: list[ResultHandle[Any] | None] = [None] * len(items)
    for i, outcome in zip(batched, outcomes, strict=True):
        handles[i] = outcome_handle(task, requests[i], flows[i], outcome)
    for i, flow in enumerate(flows):
        if flow is not None and handles[i] is None:
            handles[i] = dispatch_flow(task, requests[i], flow)
    return [handle for handle in handles if handle is not None]


def _item_flow(where: str, options: Mapping[str, Any]) -> FlowControl | None:
    if options.get("throw_on_reject"):
        raise ConfigurationError(f"{where}: throw_on_reject is not taken by dispatch_many (the batch is written "
                                 "in one go, so one refused item cannot stop the others); read each handle's "
                                 "enqueued and existing_id, or dispatch the item alone")
    return parse_flow(where, options) if options else None


def _request_of(flow: FlowControl | None) -> FlowRequest | None:
    return None if flow is None else flow.request
