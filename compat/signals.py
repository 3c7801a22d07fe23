"""Celery's signals (``celery.signals``): the ``Signal`` dispatcher and every named signal instance.

Projects hook into task and worker life cycles by connecting receivers to these module-level objects
(``@task_prerun.connect``); the worker layer sends them. The dispatcher follows Celery's contract:

* ``connect`` works bare (``@sig.connect``), with options (``@sig.connect(sender=…, weak=False,
  dispatch_uid=…)``) and as a call (``sig.connect(fn, sender=…)``); it returns the receiver.
* Receivers get ``signal=`` and ``sender=`` plus the signal's keyword arguments, so they must accept
  ``**kwargs`` (checked at connect time).
* ``sender=`` filters: a receiver connected with a sender only hears sends from that sender. A sender
  given as a string also matches an object whose ``name`` is that string, so
  ``task_prerun.connect(fn, sender="proj.tasks.add")`` hears that task (Celery matches strings only
  against string senders such as ``before_task_publish``'s task name).
* Receivers are weakly referenced by default (a lambda connected without ``weak=False`` vanishes);
  ``dispatch_uid`` de-duplicates connections.
* A receiver that raises is logged and skipped: ``send`` goes on with the others and reports
  ``(receiver, exception)`` in its result, so an observability hook never breaks a task.
"""

from __future__ import annotations

import inspect
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from .utils.log import get_logger

__all__ = [
    "Signal",
    "before_task_publish",
    "after_task_publish",
    "task_sent",
    "task_received",
    "task_prerun",
    "task_postrun",
    "task_success",
    "task_retry",
    "task_failure",
    "task_internal_error",
    "task_revoked",
    "task_rejected",
    "task_unknown",
    "celeryd_init",
    "celeryd_after_setup",
    "import_modules",
    "worker_init",
    "worker_before_create_process",
    "worker_process_init",
    "worker_process_shutdown",
    "worker_ready",
    "worker_shutdown",
    "worker_shutting_down",
    "heartbeat_sent",
    "setup_logging",
    "after_setup_logger",
    "after_setup_task_logger",
    "beat_init",
    "beat_embedded_init",
    "eventlet_pool_started",
    "eventlet_pool_preshutdown",
    "eventlet_pool_postshutdown",
    "eventlet_pool_apply",
    "user_preload_options",
]

logger = get_logger("celery.utils.dispatch.signal")

#: Seconds between attempts of a ``retry=True`` receiver (start, step, cap), as kombu retries.
RETRY_INTERVAL_START, RETRY_INTERVAL_STEP, RETRY_INTERVAL_MAX = 2.0, 2.0, 30.0
_sleep = time.sleep  # module attribute so tests can replace it


def _unwrap(obj: Any) -> Any:
    """Resolve lazy proxies (Celery's ``Proxy``/``PromiseProxy`` shape) to the object they stand for."""
    getter = getattr(type(obj), "_get_current_object", None)
    return getter(obj) if callable(getter) else obj


def _receiver_key(receiver: Callable[..., Any]) -> Any:
    """Identity of a receiver: a bound method is its (instance, function) pair."""
    func = getattr(receiver, "__func__", None)
    owner = getattr(receiver, "__self__", None)
    if func is not None and owner is not None:
        return (id(owner), id(func))
    return id(receiver)


def _sender_key(sender: Any) -> Any:
    """Identity of a sender for de-duplication: strings by value, objects by identity."""
    if sender is None or isinstance(sender, (str, bytes)):
        return sender
    return id(sender)


def _sender_matches(wanted: Any, sent: Any) -> bool:
    """Does a receiver connected for ``wanted`` hear a send from ``sent``?"""
    if wanted is None:
        return True
    if isinstance(wanted, (str, bytes)):
        if isinstance(sent, (str, bytes)):
            return wanted == sent
        return sent is not None and getattr(_unwrap(sent), "name", None) == wanted
    return sent is not None and _unwrap(wanted) is _unwrap(sent)


def _accepts_kwargs(receiver: Callable[..., Any]) -> bool:
    """True unless the receiver's signature provably lacks ``**kwargs``."""
    try:
        params = inspect.signature(receiver).parameters.values()
    except (TypeError, ValueError):  # builtins and C callables: cannot tell, trust them
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _reference(receiver: Callable[..., Any], weak: bool, on_dead: Callable[[], None]) -> Callable[[], Any]:
    """A zero-argument callable returning the receiver (or None once it was garbage collected)."""
    if weak:
        try:
            owner = getattr(receiver, "__self__", None)
            if owner is not None and getattr(receiver, "__func__", None) is not None:
                return weakref.WeakMethod(receiver, lambda _ref: on_dead())
            return weakref.ref(receiver, lambda _ref: on_dead())
        except TypeError:
            pass  # not weak-referenceable (e.g. a builtin): keep it strongly, as a weak=False receiver
    return lambda: receiver


def _retrying(receiver: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``receiver`` so a failure is logged and retried until it succeeds (``retry=True``)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        interval = RETRY_INTERVAL_START
        while True:
            try:
                return receiver(*args, **kwargs)
            except Exception as exc:
                logger.error("Could not process signal receiver %r (%r); retrying in %ss", receiver, exc, interval)
                _sleep(interval)
                interval = min(interval + RETRY_INTERVAL_STEP, RETRY_INTERVAL_MAX)

    call.__wrapped__ = receiver  # type: ignore[attr-defined]
    return call


class Signal:
    """An observer list that named events are sent through.

    Args:
        providing_args: Names of the keyword arguments ``send`` passes (documentation only).
        use_caching: Accepted for Celery's signature; lookups are always live.
        name: Shown in ``repr`` and in the log line of a failing receiver.
    """

    def __init__(
        self,
        providing_args: Iterable[str] | None = None,
        use_caching: bool = False,
        name: str | None = None,
    ) -> None:
        self.providing_args = set(providing_args or ())
        self.use_caching = use_caching
        self.name = name
        self._lock = threading.Lock()
        # (lookup key, wanted sender, reference to the receiver); replaced, never changed in place, so a
        # reader holds a consistent list without copying it (and ``_unfiltered`` knows which list it saw)
        self._receivers: list[tuple[tuple[Any, Any], Any, Callable[[], Any]]] = []
        # (the receiver list, its references) when no receiver of that list filters by sender: the task
        # signals are sent several times per job, and then every send reaches every receiver.
        self._unfiltered: tuple[list[Any], tuple[Callable[[], Any], ...]] = ([], ())
        self._dead = False
        self._on_connect: list[Callable[[], Any]] = []

    @property
    def receivers(self) -> list[tuple[tuple[Any, Any], Callable[[], Any]]]:
        """Connected ``(lookup_key, reference)`` pairs (a copy; for introspection and tests)."""
        with self._lock:
            self._drop_dead()
            return [(key, ref) for key, _sender, ref in self._receivers]

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        """Connect a receiver; usable as ``@sig.connect``, ``@sig.connect(**options)`` or a call.

        Options: ``sender`` (only hear this sender; None = all), ``weak`` (default True: hold the
        receiver by weak reference), ``dispatch_uid`` (a hashable id: connecting again under the same
        id and sender is a no-op), ``retry`` (retry the receiver until it succeeds; implies a strong
        reference). Returns the receiver (or, without one, a decorator).

        Raises:
            ValueError: the receiver does not accept ``**kwargs``.
        """
        if args and callable(args[0]):
            return self._options(*args[1:], **kwargs)(args[0])
        return self._options(*args, **kwargs)

    def _options(
        self, sender: Any = None, weak: bool = True, dispatch_uid: Any = None, retry: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorate(receiver: Callable[..., Any]) -> Callable[..., Any]:
            target, uid = receiver, dispatch_uid
            if retry:
                uid = uid if uid is not None else _receiver_key(receiver)
                target = _retrying(receiver)
            self._add(target, sender, weak and not retry, uid)
            return receiver

        return decorate

    def _add(self, receiver: Callable[..., Any], sender: Any, weak: bool, dispatch_uid: Any) -> None:
        if not callable(receiver):
            raise TypeError(f"Signal receivers must be callable, got {receiver!r}")
        if not _accepts_kwargs(receiver):
            raise ValueError("Signal receiver must accept keyword arguments.")
        key = (dispatch_uid if dispatch_uid is not None else _receiver_key(receiver), _sender_key(sender))
        ref = _reference(receiver, weak, self._mark_dead)
        with self._lock:
            self._drop_dead()
            if all(existing != key for existing, _s, _r in self._receivers):
                self._receivers = [*self._receivers, (key, sender, ref)]
        for callback in list(self._on_connect):
            if self._run_on_connect(callback) and callback in self._on_connect:
                self._on_connect.remove(callback)

    def _run_on_connect(self, callback: Callable[[], bool]) -> bool:
        try:
            return bool(callback())
        except Exception:
            logger.exception("Signal %s: an on_connect callback raised; dropped", self.name)
            return True

    def on_connect(self, callback: Callable[[], bool]) -> None:
        """Call ``callback()`` after each receiver connects, until it returns True (done): the front starts work
        that only a receiver of this signal needs (reading every task event for ``task_revoked``) when the first
        one arrives. A callback that raises is logged and dropped: connecting a receiver never fails for it."""
        self._on_connect.append(callback)

    def disconnect(
        self,
        receiver: Callable[..., Any] | None = None,
        sender: Any = None,
        weak: bool | None = None,
        dispatch_uid: Any = None,
    ) -> bool:
        """Disconnect the receiver connected with this ``sender`` (or ``dispatch_uid``).

        Returns True if something was disconnected. ``weak`` is accepted for Celery's signature.
        """
        ident = dispatch_uid if dispatch_uid is not None else _receiver_key(receiver)  # type: ignore[arg-type]
        key = (ident, _sender_key(sender))
        with self._lock:
            self._drop_dead()
            for index, (existing, _sender, _ref) in enumerate(self._receivers):
                if existing == key:
                    self._receivers = self._receivers[:index] + self._receivers[index + 1:]
                    return True
        return False

    def has_listeners(self, sender: Any = None) -> bool:
        """True if a send from ``sender`` would reach at least one live receiver."""
        return bool(self._live_receivers(sender))

    def send(self, sender: Any, **named: Any) -> list[tuple[Callable[..., Any], Any]]:
        """Call every receiver listening to ``sender`` with ``signal=``, ``sender=`` and ``named``.

        Returns ``[(receiver, response), …]``; a receiver that raised is logged and reported with
        its exception as the response, and the remaining receivers still run.
        """
        responses: list[tuple[Callable[..., Any], Any]] = []
        for receiver in self._live_receivers(sender):
            try:
                response = receiver(signal=self, sender=sender, **named)
            except Exception as exc:
                logger.exception("Signal handler %r raised: %r", receiver, exc)
                responses.append((receiver, exc))
            else:
                responses.append((receiver, response))
        return responses

    #: Celery (like Django) offers both names; they behave the same.
    send_robust = send

    def _live_receivers(self, sender: Any) -> list[Callable[..., Any]]:
        if not self._receivers:  # most signals have nobody listening; sent several times per task
            return []
        listed, refs = self._unfiltered
        if listed is not self._receivers or self._dead:
            refs = self._matching_refs(sender)
        return [receiver for receiver in (ref() for ref in refs) if receiver is not None]

    def _matching_refs(self, sender: Any) -> tuple[Callable[[], Any], ...]:
        with self._lock:
            self._drop_dead()
            entries = self._receivers
        if all(wanted is None for _key, wanted, _ref in entries):
            refs = tuple(ref for _key, _wanted, ref in entries)
            self._unfiltered = (entries, refs)
            return refs
        # Match outside the lock: resolving a lazy sender may import code that connects receivers.
        return tuple(ref for _key, wanted, ref in entries if _sender_matches(wanted, sender))

    def _mark_dead(self) -> None:
        # Called from garbage collection, possibly while the lock is held: only flag, clean up later.
        self._dead = True

    def _drop_dead(self) -> None:
        """Forget receivers whose weak reference died (caller holds the lock)."""
        if self._dead:
            self._dead = False
            self._receivers = [entry for entry in self._receivers if entry[2]() is not None]

    def __repr__(self) -> str:
        return f"<Signal: {self.name} providing_args={sorted(self.providing_args)!r}>"

    __str__ = __repr__


def _signal(name: str, *args: str) -> Signal:
    return Signal(name=name, providing_args=args)


# --- publishing (sender: the task name, a str) ---
before_task_publish = _signal(
    "before_task_publish",
    "body", "exchange", "routing_key", "headers", "properties", "declare", "retry_policy",
)  # fmt: skip
after_task_publish = _signal("after_task_publish", "body", "exchange", "routing_key")
#: Deprecated in Celery; kept so imports keep working.
task_sent = _signal("task_sent", "task_id", "task", "args", "kwargs", "eta", "taskset")

# --- task execution (sender: the task object, or the consumer for received/rejected/unknown) ---
task_received = _signal("task_received", "request")
task_prerun = _signal("task_prerun", "task_id", "task", "args", "kwargs")
task_postrun = _signal("task_postrun", "task_id", "task", "args", "kwargs", "retval", "state")
task_success = _signal("task_success", "result", "runtime")
task_retry = _signal("task_retry", "request", "reason", "einfo")
task_failure = _signal("task_failure", "task_id", "exception", "args", "kwargs", "traceback", "einfo")
task_internal_error = _signal(
    "task_internal_error", "task_id", "args", "kwargs", "request", "exception", "traceback", "einfo"
)
task_revoked = _signal("task_revoked", "request", "terminated", "signum", "expired")
task_rejected = _signal("task_rejected", "message", "exc")
task_unknown = _signal("task_unknown", "message", "exc", "name", "id")

# --- worker and app life cycle ---
celeryd_init = _signal("celeryd_init", "instance", "conf", "options")
celeryd_after_setup = _signal("celeryd_after_setup", "instance", "conf")
import_modules = _signal("import_modules")
worker_init = _signal("worker_init")
worker_before_create_process = _signal("worker_before_create_process")
worker_process_init = _signal("worker_process_init")
worker_process_shutdown = _signal("worker_process_shutdown", "pid", "exitcode")
worker_ready = _signal("worker_ready")
worker_shutdown = _signal("worker_shutdown")
worker_shutting_down = _signal("worker_shutting_down", "sig", "how", "exitcode")
heartbeat_sent = _signal("heartbeat_sent")

# --- logging (a connected setup_logging receiver means: do not configure logging at all) ---
setup_logging = _signal("setup_logging", "loglevel", "logfile", "format", "colorize")
after_setup_logger = _signal("after_setup_logger", "logger", "loglevel", "logfile", "format", "colorize")
after_setup_task_logger = _signal("after_setup_task_logger", "logger", "loglevel", "logfile", "format", "colorize")

# --- beat ---
beat_init = _signal("beat_init")
beat_embedded_init = _signal("beat_embedded_init")

# --- eventlet pool and command line (accepted for imports; never sent by taskora) ---
eventlet_pool_started = _signal("eventlet_pool_started")
eventlet_pool_preshutdown = _signal("eventlet_pool_preshutdown")
eventlet_pool_postshutdown = _signal("eventlet_pool_postshutdown")
eventlet_pool_apply = _signal("eventlet_pool_apply", "target", "args", "kwargs")
user_preload_options = _signal("user_preload_options", "app", "options")
