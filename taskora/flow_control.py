"""Dispatch-time flow control: ``debounce``, ``throttle`` and ``deduplicate`` (seeds: features/flow-control).

The options are checked here, at the call site, before anything is written: each is a dict with known
fields, the three are mutually exclusive, and a debounce brings its own delay. The decision itself is the
engine's, one atomic script per dispatch (taskora/adapters/flow.py), so producers in many processes (and
TypeScript ones sharing the Redis) enforce the same limits on each other's jobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .adapters.base import FlowRequest
from .durations import to_ms
from .errors import ConfigurationError, DuplicateJobError, ThrottledError, reject_unknown
from .handles import ResultHandle

if TYPE_CHECKING:
    from .adapters.base import EnqueueRequest, FlowOutcome
    from .task import Task

#: The flow-control options of ``dispatch``, mutually exclusive.
FLOW_OPTIONS = ("debounce", "throttle", "deduplicate")
#: Every dispatch option this module reads (``throw_on_reject`` turns a rejection into an error).
DISPATCH_FLOW_OPTIONS = frozenset({*FLOW_OPTIONS, "throw_on_reject"})
#: States in which a job holding a dedup key blocks a new one (and the default of ``while``).
DEDUP_STATES: tuple[str, ...] = ("waiting", "delayed", "active")
_FIELDS = {"debounce": frozenset({"key", "delay"}), "throttle": frozenset({"key", "max", "window"}),
           "deduplicate": frozenset({"key", "while"})}
_MAX_KEY_LENGTH = 1024
#: Durations the window cache may key on (anything else is checked uncached, and refused by ``to_ms``).
_HASHABLE_DURATIONS = (int, float, str, timedelta)


class FlowControl:
    """One dispatch's validated flow control: what to send the engine, and whether to raise on rejection."""

    __slots__ = ("request", "delay_ms", "throw_on_reject")

    def __init__(self, request: FlowRequest, delay_ms: int, throw_on_reject: bool) -> None:
        self.request = request
        #: A debounce's window, which is the job's delay (0 for the others).
        self.delay_ms = delay_ms
        self.throw_on_reject = throw_on_reject


def parse_flow(where: str, options: Mapping[str, Any]) -> FlowControl | None:
    """The flow control ``options`` ask for (None when none), or ConfigurationError naming what is wrong.

    Every call checks every field; what a call repeats (a window string, a ``while`` list, a throttle's
    whole config) is parsed once and cached, so an admitted dispatch pays little over a plain one.
    """
    throw = options.get("throw_on_reject", False)
    if throw is not False and throw is not True:
        raise ConfigurationError(f"{where}: throw_on_reject must be True or False, got {throw!r}")
    kind = _flow_kind(where, options)
    if kind is None:
        return None
    config = options[kind]
    if kind == "deduplicate" and type(config) is dict and len(config) == 1 and "key" in config:
        return FlowControl(FlowRequest(kind, _key(where, kind, config["key"]), states=DEDUP_STATES), 0, throw)
    if type(config) is not dict and not isinstance(config, Mapping):
        raise ConfigurationError(f"{where}: {kind} must be a dict with {', '.join(sorted(_FIELDS[kind]))}, "
                                 f"got {type(config).__name__} ({config!r})")
    if not _FIELDS[kind].issuperset(config):
        reject_unknown(f"{where}: {kind}", config, _FIELDS[kind], noun="field(s)")
    key = _key(where, kind, config.get("key"))
    if kind == "deduplicate":
        return FlowControl(FlowRequest(kind, key, states=_states(where, config.get("while"))), 0, throw)
    if kind == "debounce":
        return FlowControl(FlowRequest(kind, key), _debounce_delay(where, config, options), throw)
    return _throttle(where, key, config.get("max"), config.get("window"), throw)


def _flow_kind(where: str, options: Mapping[str, Any]) -> str | None:
    """The one flow-control option given (None when none); two or more are refused. One pass over the
    options given (usually one or two), not over every flow option."""
    kind = None
    for name, value in options.items():
        if name in _FIELDS and value is not None:
            if kind is not None:
                given = [name for name in FLOW_OPTIONS if options.get(name) is not None]
                raise ConfigurationError(f"{where}: {' and '.join(given)} are mutually exclusive; "
                                         "give one flow-control option per dispatch")
            kind = name
    return kind


def _throttle(where: str, key: str, max_: Any, window: Any, throw: bool) -> FlowControl:
    """A throttle's FlowControl; cached per (key, max, window, throw), as a throttle's config is the same on
    every dispatch (a hit is a checked config: only valid ones are cached, and errors name ``where``)."""
    if type(max_) is int and isinstance(window, _HASHABLE_DURATIONS) and type(window) is not bool:
        try:
            return _cached_throttle(key, max_, window, throw)
        except ConfigurationError:
            pass  # not cached: checked again below, so the error names the call site
    return FlowControl(FlowRequest("throttle", key, max=_max(where, max_),
                                   window_ms=_positive_ms(where, "throttle.window", window)), 0, throw)


@lru_cache(maxsize=256)
def _cached_throttle(key: str, max_: int, window: Any, throw: bool) -> FlowControl:
    return FlowControl(FlowRequest("throttle", key, max=_max("", max_),
                                   window_ms=_positive_ms("", "throttle.window", window)), 0, throw)


def without_flow(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """``options`` minus the flow-control ones (which ``build_request`` does not take: ``dispatch`` and
    ``dispatch_many`` apply them, taskora/flow_batch.py; workflow signatures refuse them)."""
    if len(options) == 1:  # the common case: the flow option alone
        return {} if next(iter(options)) in DISPATCH_FLOW_OPTIONS else options
    if DISPATCH_FLOW_OPTIONS.isdisjoint(options):
        return options
    return {name: value for name, value in options.items() if name not in DISPATCH_FLOW_OPTIONS}


def dispatch_flow(task: Task[Any, Any], request: EnqueueRequest, flow: FlowControl) -> ResultHandle[Any]:
    """Send ``request`` under ``flow``; returns the handle, or raises ThrottledError/DuplicateJobError
    when ``throw_on_reject`` was set and the engine refused the job.

    A throttled dispatch's handle keeps the id nothing was written under (``enqueued`` False); a duplicate's
    handle is the job holding the key (``existing_id``, which ``result()`` then waits on).
    """
    if flow.delay_ms:
        request.delay_ms = flow.delay_ms
        if request.expire_at_ms:  # the ttl counts from when the job becomes runnable, as with ``delay``
            request.expire_at_ms += flow.delay_ms
    outcome = task.app.adapter.enqueue_flow(request, flow.request)
    return outcome_handle(task, request, flow, outcome)


def outcome_handle(task: Task[Any, Any], request: EnqueueRequest, flow: FlowControl | None,
                   outcome: FlowOutcome) -> ResultHandle[Any]:  # fmt: skip
    """The handle of one flow-controlled enqueue (``flow`` None: a plain job of a batch), or the error
    ``throw_on_reject`` asks for."""
    if outcome.created:  # a debounced job may be replaced before anyone waits: its wait looks first
        return ResultHandle(task.app, task.name, request.id, created=flow is None or not flow.delay_ms)
    if outcome.reason == "throttled":
        if flow is not None and flow.throw_on_reject:
            raise ThrottledError(flow.request.key, request.id)
        return ResultHandle(task.app, task.name, request.id, enqueued=False)
    existing = outcome.existing_id or request.id
    if outcome.reason == "duplicate" and flow is not None and flow.throw_on_reject:
        raise DuplicateJobError(flow.request.key, existing)
    return ResultHandle(task.app, task.name, existing, enqueued=False, existing_id=existing)


def user_key(prefix: str, stored: Any) -> str | None:
    """The user's key inside a stored flow-control key name (``stored`` minus ``prefix``); None when absent."""
    if stored is None:
        return None
    text = stored.decode("utf-8", "replace") if isinstance(stored, bytes) else str(stored)
    return text[len(prefix):] if text.startswith(prefix) else text


def _key(where: str, kind: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: {kind}.key must be a non-empty string, got {type(value).__name__} "
                                 f"({value!r})")
    if len(value) > _MAX_KEY_LENGTH:
        raise ConfigurationError(f"{where}: {kind}.key is longer than {_MAX_KEY_LENGTH} characters")
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigurationError(f"{where}: {kind}.key {value!r} holds a lone surrogate, which has no UTF-8 form"
                                 ) from None
    return value


def _debounce_delay(where: str, config: Mapping[str, Any], options: Mapping[str, Any]) -> int:
    if options.get("delay") is not None:
        raise ConfigurationError(f"{where}: debounce and delay are mutually exclusive "
                                 "(the debounce delay is the job's delay)")
    if config.get("delay") is None:
        raise ConfigurationError(f"{where}: debounce needs a delay (the window, e.g. '2s')")
    return _positive_ms(where, "debounce.delay", config["delay"])


def _positive_ms(where: str, name: str, value: Any) -> int:
    if value is None:
        raise ConfigurationError(f"{where}: {name} is required (a duration, e.g. '1m')")
    try:
        return _duration_ms(value) if isinstance(value, _HASHABLE_DURATIONS) else _duration_ms.__wrapped__(value)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {name}{str(exc)[len('duration'):]}") from None


@lru_cache(maxsize=256)
def _duration_ms(value: Any) -> int:
    """A window as whole ms, at least 1; cached, as the same few windows come with every dispatch (a
    duration string is parsed with a regex). Errors start with "duration" for the caller to rename."""
    ms = to_ms(value, name="duration")
    if ms < 1:
        raise ConfigurationError(f"duration must be at least 1 ms, got {value!r}")
    return ms


def _max(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{where}: throttle.max must be an integer >= 1, got {value!r}")
    return value


def _states(where: str, value: Any) -> tuple[str, ...]:
    if value is None:  # the default: all three
        return DEDUP_STATES
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)) or not value:
        raise ConfigurationError(f"{where}: deduplicate.while must be a non-empty list of "
                                 f"{', '.join(DEDUP_STATES)}, got {value!r}")
    unknown = [state for state in value if state not in DEDUP_STATES]
    if unknown:
        raise ConfigurationError(f"{where}: deduplicate.while has unknown state(s) {unknown!r}; "
                                 f"known: {', '.join(DEDUP_STATES)}")
    return tuple(state for state in DEDUP_STATES if state in value)
