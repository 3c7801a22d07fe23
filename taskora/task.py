"""Task: a named handler with its options; ``dispatch`` turns data into a job."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from . import collect, flow_batch
from .adapters.base import EnqueueRequest
from .claim_control import CLAIM_DISPATCH_OPTIONS, claim_control, claims_nothing
from .dispatch_hooks import before_dispatch
from .durations import to_ms
from .errors import ConfigurationError, reject_unknown
from .events import TASK_EVENTS, Emitter
from .flow_control import DISPATCH_FLOW_OPTIONS, FlowControl, dispatch_flow, parse_flow, without_flow
from .handles import ResultHandle
from .ids import random_uuid
from .job_fields import check_job_id, check_meta
from .options import TaskOptions, check_priority, stored_max_attempts
from .validation import TaskIO

if TYPE_CHECKING:
    from .app import Taskora

In = TypeVar("In")
Out = TypeVar("Out")

#: Options accepted by ``dispatch``; anything else is an error naming the option.
DISPATCH_OPTIONS = frozenset({"delay", "priority", "ttl", "job_id", "meta", "skip_validation"})
DISPATCH_OPTIONS |= CLAIM_DISPATCH_OPTIONS


def _accepts_context(handler: Callable[..., Any]) -> bool:
    """Handlers may be ``fn(data)`` or ``fn(data, ctx)``; decide once, at declaration."""
    try:
        params = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


class Task(Generic[In, Out]):
    """A registered task. Call ``dispatch(data)`` to enqueue; call the task itself to run it inline."""

    def __init__(self, app: Taskora, name: str, handler: Callable[..., Any] | None, options: TaskOptions) -> None:
        self.app = app
        self.name = name
        self.handler = handler
        self.io, self.options = TaskIO.build(name, options)  # schemas and payload versions (validation.py)
        self.events = Emitter(TASK_EVENTS, f"task {name!r}")
        self.accepts_context = handler is not None and _accepts_context(handler)
        self.is_async = handler is not None and asyncio.iscoroutinefunction(handler)
        if options.collect is not None:
            collect.check_serializer(name, app.serializer)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    def __call__(self, data: Any = None, ctx: Any = None) -> Any:
        """Run the handler in this process, as a plain function call (no queue, no retries)."""
        if self.handler is None:
            raise ConfigurationError(f"task {self.name!r} has no handler in this process (a contract only)")
        data = self.io.for_handler(data, self.options.version)  # the input schema, as a worker applies it
        result = self.handler(data, ctx) if self.accepts_context else self.handler(data)
        if inspect.isawaitable(result):
            return asyncio.run(_await(result))
        return result

    # -- dispatching ----------------------------------------------------------------------------
    def dispatch(self, data: Any = None, **options: Any) -> ResultHandle[Out]:
        """Enqueue one job and return its handle at once.

        Options: ``delay`` (seconds or "5m"), ``priority`` (-1000 to 1000, higher first), ``ttl`` (expire
        unless started within it), ``job_id`` (a dispatch with the id of an existing job creates
        nothing), ``meta`` (a dict stored on the job as strings; handlers read it with
        ``ctx.meta(name)``/``ctx.metas(prefix)``), and the flow control of taskora/flow_control.py
        (``debounce``, ``throttle``, ``deduplicate``, ``throw_on_reject``). Errors (bad option,
        unserializable data) raise here, before anything is written. Under ``background_dispatch`` a dispatch
        without flow control returns before the job is in Redis (taskora/background.py).
        """
        if self.options.collect is not None:  # an item for the task's buffer, not a job (taskora/collect.py)
            return collect.push(self, data, options)
        flow: FlowControl | None = None
        job_options: Mapping[str, Any] = options
        if options and not DISPATCH_FLOW_OPTIONS.isdisjoint(options):  # most dispatches skip flow control at once
            flow = parse_flow(f"{self.name}.dispatch", options)
            job_options = without_flow(options)
        request = self.build_request(data, job_options)
        if flow is not None:
            return dispatch_flow(self, request, flow)
        sender = self.app.background_sender()
        if sender is not None:  # returns before the job is in Redis (taskora/background.py)
            return sender.submit(request, lambda seq: ResultHandle(self.app, self.name, request.id, enqueued=None,
                                                                   sender=sender, seq=seq))
        created = self.app.adapter.enqueue(request)
        return ResultHandle(self.app, self.name, request.id, enqueued=created,
                            existing_id=None if created else request.id, created=created)

    def dispatch_many(self, items: Iterable[Any]) -> list[ResultHandle[Out]]:
        """Enqueue many jobs in one round trip. Each item is data, or ``(data, options_dict)``; an item's
        ``deduplicate`` is decided in the same script call, ``throttle``/``debounce`` items go one by one."""
        if self.options.collect is not None:
            return [collect.push(self, *_split_item(item)) for item in items]
        pairs = [_split_item(item) for item in items]
        if flow_batch.has_flow(pairs):  # deduplicate, throttle, debounce items (taskora/flow_batch.py)
            return flow_batch.dispatch_many(self, pairs)
        requests = [self.build_request(data, options) for data, options in pairs]
        created = self.app.adapter.enqueue_many(requests)
        return [ResultHandle(self.app, self.name, r.id, enqueued=c, created=c)
                for r, c in zip(requests, created, strict=True)]

    def build_request(self, data: Any, options: Mapping[str, Any]) -> EnqueueRequest:
        """Validate options and serialize ``data`` into an enqueue request (nothing is sent)."""
        self._refuse_if_collect()
        defaults = self.options  # validated when the task was declared: a dispatch without options skips checks
        job_id, delay_ms, priority, meta = None, 0, defaults.priority, {}
        data = self.io.for_dispatch(data, self.app.validate_on_dispatch and not options.get("skip_validation"))
        if options:  # each check only for an option given (the Celery front gives ``meta`` on every call)
            where = f"{self.name}.dispatch"
            if not DISPATCH_OPTIONS.issuperset(options):
                reject_unknown(where, options, DISPATCH_OPTIONS)
            if options.get("job_id") is not None:
                job_id = check_job_id(options["job_id"], where)
            if options.get("delay") is not None:
                delay_ms = to_ms(options["delay"], name="delay")
            if "priority" in options:
                priority = check_priority(options["priority"])
            if options.get("meta") is not None:
                meta = check_meta(options["meta"], where)
        expire_at, minted = 0, "" if job_id else random_uuid()
        if not claims_nothing(self, options):  # ttl, concurrency key (claim_control.py)
            expire_at, claim_fields = claim_control(self, data, options, delay_ms)
            meta = {**meta, **claim_fields}
        return before_dispatch(self.app, self.options.middleware, EnqueueRequest(
            task=self.name,
            id=job_id or minted,
            data=self.app.serializer.dumps(data),
            delay_ms=delay_ms,
            priority=priority,
            max_attempts=stored_max_attempts(defaults.retry.attempts),
            expire_at_ms=expire_at,
            version=defaults.version,
            fields=meta,
            minted_id=minted,
        ))

    # -- collect buffers (taskora/collect.py) -------------------------------------------------------
    def peek_collect(self, key: str) -> list[Any]:
        """The items buffered under ``key``, oldest first; drains nothing and moves no timer."""
        return collect.peek(self, key)

    def inspect_collect(self, key: str) -> collect.CollectBufferInfo | None:
        """``count``, ``oldest_at``, ``newest_at`` (epoch ms) of the buffer of ``key``; None when empty."""
        return collect.inspect(self, key)

    # -- workflows --------------------------------------------------------------------------------
    def s(self, *data: Any, **options: Any) -> Any:
        """A signature: ``task.s(data)`` binds data, ``task.s()`` takes the previous step's output.

        Compose with ``chain``/``group``/``chord`` or ``|``/``.pipe()``; options: delay, priority, ttl, meta,
        job_id, concurrency_key, concurrency_limit (flow control is refused: workflow/step_options.py).
        """
        from .workflow.signature import Signature

        self._refuse_if_collect()
        if len(data) > 1:
            raise ConfigurationError(f"{self.name}.s() takes one data argument, got {len(data)}")
        return Signature(self, *data, **options)

    def map(self, items: Iterable[Any], **options: Any) -> Any:
        """One job per item, in parallel; returns a WorkflowHandle whose result is the list of results."""
        from .workflow.signature import Group, Signature

        self._refuse_if_collect()
        return Group(*[Signature(self, item) for item in items]).dispatch(**options)

    def chunk(self, items: Iterable[Any], *, size: int, **options: Any) -> Any:
        """Batches of ``size`` run one after another, each in parallel; result: every item's result, in order."""
        from .workflow.signature import Chunks

        self._refuse_if_collect()
        return Chunks(self, items, size).dispatch(**options)

    def _refuse_if_collect(self) -> None:
        """A collect task's dispatch pushes an item; a job of its own (a workflow step) would bypass the buffer."""
        if self.options.collect is not None:
            raise ConfigurationError(f"task {self.name!r} collects items into batches: dispatch() its items; it "
                                     f"cannot be a workflow step or take a job of its own")

    # -- events -----------------------------------------------------------------------------------
    def on(self, event: str, listener: Callable[..., Any]) -> Callable[[], None]:
        """Listen to this task's jobs, from any worker: completed, failed, retrying, active, progress..."""
        off = self.events.on(event, listener)
        self.app._events_reader().listen(self.name)
        return off

    def handle(self, job_id: str) -> ResultHandle[Out]:
        """A handle on an existing job of this task, by id."""
        return ResultHandle(self.app, self.name, job_id)


def _split_item(item: Any) -> tuple[Any, Mapping[str, Any]]:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping):
        return item[0], item[1]
    return item, {}


async def _await(awaitable: Any) -> Any:
    return await awaitable
