"""Celery's ``Task`` base class and its request ``Context`` (``celery.app.task``).

A task object is a per-process singleton bound to one app; ``@app.task`` creates a subclass whose
``run`` is the decorated function. Calling paths:

* ``task(*args)``: runs here, ``request.called_directly`` is True, no state, ``retry()`` re-raises.
* ``apply()``: runs here with full tracing (signals, hooks, eager retries) → ``EagerResult``.
* ``delay()``/``apply_async()``: checks the call signature (``typing``), serializes the arguments
  (``EncodeError`` before anything is sent), then publishes a taskora job — or, under
  ``task_always_eager``, round-trips the arguments and runs ``apply()``.

Retries (``self.retry``) keep the task id: in a worker the handler turns the ``Retry`` into a native
retry of the same job (state RETRY while it waits), with Celery's countdown rules.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import random
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from taskora.ids import random_uuid

from .. import exceptions as exc_mod
from .. import states
from .._canvas_api import canvas
from .._result_base import denied_join_result
from .._state import Stacked, get_current_app, push_task
from ..exceptions import Retry
from ..result import CELERY_STATE_KEY, AsyncResult, EagerResult
from ._publish_settings import publish_setting
from ._pydantic import dump_arguments as dump_pydantic_arguments
from ._retry_args import retry_arguments
from ._trace import raise_traced, trace

__all__ = ["Context", "Task", "backoff_countdown"]

#: The task whose ``__call__`` a worker/eager trace is invoking (so it does not push a direct request).
_tracing: contextvars.ContextVar[Any] = contextvars.ContextVar("taskora_compat_tracing", default=None)

#: Request attributes Celery defines; unknown ones may be set too (custom headers).
_REQUEST_DEFAULTS: dict[str, Any] = {
    "id": None, "task": None, "args": None, "kwargs": None, "retries": 0, "is_eager": False,
    "called_directly": True, "eta": None, "expires": None, "delivery_info": None, "root_id": None,
    "parent_id": None, "group": None, "group_index": None, "chord": None, "chain": None,
    "callbacks": None, "errbacks": None, "hostname": None, "correlation_id": None, "reply_to": None,
    "origin": None, "timelimit": None, "headers": None, "shadow": None, "ignore_result": False,
    "lang": "py", "argsrepr": None, "kwargsrepr": None, "properties": None, "utc": None, "logfile": None,
    "loglevel": None, "taskset": None, "content_type": None, "content_encoding": None,
}  # fmt: skip


class Context:
    """``self.request``: what the running invocation knows about itself (celery-surface §3.4)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(_REQUEST_DEFAULTS)
        self.children: list[Any] = []
        self.update(*args, **kwargs)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(*args, **kwargs)

    def clear(self) -> None:
        self.__dict__.clear()

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    # The limits a task was sent with: ``timelimit`` is Celery's wire pair (hard, soft); set values win.
    @property
    def time_limit(self) -> float | None:
        return self.__dict__.get("time_limit", _limit_of(self.__dict__.get("timelimit"), 0))

    @time_limit.setter
    def time_limit(self, value: float | None) -> None:
        self.__dict__["time_limit"] = value

    @property
    def soft_time_limit(self) -> float | None:
        return self.__dict__.get("soft_time_limit", _limit_of(self.__dict__.get("timelimit"), 1))

    @soft_time_limit.setter
    def soft_time_limit(self, value: float | None) -> None:
        self.__dict__["soft_time_limit"] = value

    @property
    def replaced_task_nesting(self) -> int:
        """How many ``Task.replace`` calls led to this task (0 for a task sent directly)."""
        if "replaced_task_nesting" in self.__dict__:
            return self.__dict__["replaced_task_nesting"]
        return int((self.__dict__.get("headers") or {}).get("replaced_task_nesting") or 0)

    @replaced_task_nesting.setter
    def replaced_task_nesting(self, value: int) -> None:
        self.__dict__["replaced_task_nesting"] = value

    @property
    def _Request__payload(self) -> tuple[Any, Any, dict[str, Any]]:  # noqa: N802 (Celery's mangled private name)
        """Celery's message body as its worker Request keeps it, ``(args, kwargs, embed)``: code written against
        Celery (its own suite's ``task_received`` receivers) reads the links from there."""
        d = self.__dict__
        embed = {"callbacks": d.get("callbacks"), "errbacks": d.get("errbacks"), "chain": d.get("chain"),
                 "chord": d.get("chord")}
        return d.get("args"), d.get("kwargs"), embed

    # Stamps arrive as message headers (``stamped_headers`` names them); set values win.
    @property
    def stamped_headers(self) -> list[str] | None:
        if "stamped_headers" in self.__dict__:
            return self.__dict__["stamped_headers"]
        return (self.__dict__.get("headers") or {}).get("stamped_headers")

    @stamped_headers.setter
    def stamped_headers(self, value: list[str] | None) -> None:
        self.__dict__["stamped_headers"] = value

    @property
    def stamps(self) -> dict[str, Any] | None:
        """``{stamp: value}`` of the stamps this task was sent with (None when it has none)."""
        if "stamps" in self.__dict__:
            return self.__dict__["stamps"]
        headers = self.__dict__.get("headers") or {}
        names = self.stamped_headers
        if not names:
            return headers.get("stamps")
        return {name: headers.get("stamps", {}).get(name, headers.get(name)) for name in names}

    @stamps.setter
    def stamps(self, value: dict[str, Any] | None) -> None:
        self.__dict__["stamps"] = value

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return f"<Context: {self.as_dict()!r}>"

    if TYPE_CHECKING:  # a request holds whatever its message and the engine bring: any attribute, as in Celery

        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...


def _limit_of(timelimit: Any, index: int) -> Any:
    """One half of a ``(hard, soft)`` time-limit pair (None when absent)."""
    return timelimit[index] if isinstance(timelimit, (list, tuple)) and len(timelimit) > index else None


def settings_of(from_config: Any) -> Mapping[str, str]:
    """A task class's ``from_config`` as {attribute: setting}, built once per tuple (read on every publish);
    a list given by a subclass works too, built each time."""
    try:
        return _settings_of_tuple(from_config)
    except TypeError:  # unhashable
        return dict(from_config)


@functools.lru_cache(maxsize=64)
def _settings_of_tuple(from_config: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    return dict(from_config)


def _positional_range(signature: inspect.Signature) -> tuple[float, float]:
    """How many positional arguments alone bind to ``signature`` (fewest, most); (inf, -inf) when no call
    without keywords does (a keyword-only parameter without a default)."""
    least, most = 0, 0.0
    for param in signature.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            most = float("inf")
        elif param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            most += 1
            least += param.default is param.empty
        elif param.kind is param.KEYWORD_ONLY and param.default is param.empty:
            return float("inf"), float("-inf")
    return least, most


def backoff_countdown(factor: Any, retries: int, maximum: int, full_jitter: bool) -> int:
    """Celery's autoretry countdown: ``min(maximum, factor * 2**retries)``, then full jitter (§2.1)."""
    factor = int(max(1.0, float(factor)))
    countdown = min(int(maximum), factor * (2**retries))
    if full_jitter:
        countdown = random.randrange(countdown + 1)
    return max(0, countdown)


def _raise_with_context(exc: BaseException) -> None:
    current = sys.exc_info()[1]
    if current is None:
        raise exc
    if current is exc:
        raise exc
    raise exc from current


class Task:
    """Base class of every Celery task (subclass it for custom bases; ``base=``/``task_cls=``)."""

    name: str | None = None
    typing: bool | None = None
    max_retries: int | None = 3
    default_retry_delay: float = 180
    rate_limit: Any = None
    ignore_result: bool | None = None
    store_errors_even_if_ignored: bool | None = None
    serializer: str | None = None
    time_limit: float | None = None
    soft_time_limit: float | None = None
    autoretry_for: tuple[type[BaseException], ...] = ()
    dont_autoretry_for: tuple[type[BaseException], ...] = ()
    retry_kwargs: Mapping[str, Any] = {}
    retry_backoff: Any = False
    retry_backoff_max: int = 600
    retry_jitter: bool = True
    acks_late: bool | None = None
    acks_on_failure_or_timeout: bool | None = None
    reject_on_worker_lost: bool | None = None
    track_started: bool | None = None
    store_eager_result: bool | None = None
    throws: tuple[type[BaseException], ...] = ()
    trail: bool = True
    send_events: bool = True
    expires: Any = None
    priority: int | None = None
    resultrepr_maxsize: int = 1024
    abstract: bool = True
    Request = "celery.worker.request:Request"
    #: ``pydantic=True`` tasks: dumps the models a caller passes (``compat.app._pydantic``).
    Strategy = "celery.worker.strategy:default"

    MaxRetriesExceededError = exc_mod.MaxRetriesExceededError
    OperationalError = exc_mod.OperationalError

    _app: Any = None
    __bound__ = False
    #: Settings a task attribute falls back to when left None.
    from_config: tuple[tuple[str, str], ...] = (
        ("serializer", "task_serializer"), ("rate_limit", "task_default_rate_limit"),
        ("priority", "task_default_priority"), ("track_started", "task_track_started"),
        ("acks_late", "task_acks_late"), ("acks_on_failure_or_timeout", "task_acks_on_failure_or_timeout"),
        ("reject_on_worker_lost", "task_reject_on_worker_lost"), ("ignore_result", "task_ignore_result"),
        ("store_eager_result", "task_store_eager_result"),
        ("store_errors_even_if_ignored", "task_store_errors_even_if_ignored"),
        ("time_limit", "task_time_limit"), ("soft_time_limit", "task_soft_time_limit"),
    )  # fmt: skip

    # -- binding ------------------------------------------------------------------------------------
    @classmethod
    def bind(cls, app: Any) -> Any:
        """Bind the class to ``app`` and run ``on_bound``; settings are read later, when first needed
        (:meth:`resolved`), so binding never forces the app's configuration to load."""
        cls._app = app
        cls.__bound__ = True
        cls.on_bound(app)
        return app

    def resolved(self, attr: str) -> Any:
        """The attribute's value, or when it is None the matching ``task_*`` setting of the app."""
        value = getattr(self, attr, None)
        if value is None:
            setting = settings_of(self.from_config).get(attr)
            if setting is not None:  # read on every publish and every job a worker runs: kept per settings version
                value = publish_setting(self._get_app().conf, setting)
        return value

    @classmethod
    def on_bound(cls, app: Any) -> None:
        """Called when the class is bound to an app (override point)."""

    @property
    def app(self) -> Any:
        return self._get_app()

    @property
    def backend(self) -> Any:
        """The app's result backend (``self.backend.store_result(...)`` inside a task)."""
        return self._get_app().backend

    @classmethod
    def _get_app(cls) -> Any:
        if cls._app is None:
            cls._app = get_current_app()
        if not cls.__bound__:
            cls.bind(cls._app)
        return cls._app

    # -- the request stack --------------------------------------------------------------------------
    @property
    def _requests(self) -> contextvars.ContextVar[tuple[Context, ...]]:
        var = self.__dict__.get("_request_var")
        if var is None:
            var = contextvars.ContextVar(f"celery_request_{id(self)}", default=())
            self.__dict__["_request_var"] = var
        return var

    @property
    def request(self) -> Context:
        stack = self._requests.get()
        if stack:
            return stack[-1]
        default = self.__dict__.get("_default_request")
        if default is None:
            default = self.__dict__["_default_request"] = Context()
        return default

    def pushed_request(self, request: Context) -> Stacked:
        """``with task.pushed_request(request):`` ``self.request`` is ``request`` inside the block."""
        return Stacked(self._requests, request)

    def push_request(self, *args: Any, **kwargs: Any) -> None:
        self._requests.set((*self._requests.get(), Context(*args, **kwargs)))

    def pop_request(self) -> None:
        self._requests.set(self._requests.get()[:-1])

    # -- running ------------------------------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Tasks must define the run method.")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here; inside a worker/eager trace the trace's request is the current one."""
        if _tracing.get() is self:
            _tracing.set(None)
            return self.run(*args, **kwargs)
        with self.pushed_request(Context(args=list(args), kwargs=kwargs, called_directly=True)), push_task(self):
            return self.run(*args, **kwargs)

    def execute_body(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """What a worker calls: ``__call__`` when a subclass overrides it (Flask pattern), else ``run``."""
        if type(self).__call__ is not Task.__call__:
            token = _tracing.set(self)
            try:
                return self(*args, **kwargs)
            finally:
                _tracing.reset(token)
        return self.run(*args, **kwargs)

    def _install_autoretry(self) -> None:
        """Wrap ``run`` so ``autoretry_for`` exceptions call ``self.retry`` (Celery wraps run too)."""
        autoretry_for = tuple(self.autoretry_for or ())
        if not autoretry_for or self.__dict__.get("_autoretry_installed"):
            return
        original = self.run
        task = self

        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return original(*args, **kwargs)
            except (exc_mod.Ignore, Retry):
                raise
            except tuple(task.dont_autoretry_for or ()):
                raise
            except autoretry_for as exc:
                options = dict(task.retry_kwargs or {})
                if task.retry_backoff:
                    options["countdown"] = backoff_countdown(task.retry_backoff, task.request.retries,
                                                             task.retry_backoff_max, task.retry_jitter)
                raise task.retry(exc=exc, **options) from None

        self.__dict__["run"] = run
        self.__dict__["_original_run"] = original
        self.__dict__["_autoretry_installed"] = True

    # -- calling ------------------------------------------------------------------------------------
    def check_arguments(self, *args: Any, **kwargs: Any) -> None:
        """Raise TypeError now when ``run`` cannot take these arguments (``typing=True``)."""
        run = self.__dict__.get("_original_run") or self.run
        cached = self.__dict__.get("_run_signature")
        if cached is None or cached[0] != run:  # computed once per run function, not per call
            try:
                signature = inspect.signature(run)
            except (TypeError, ValueError):
                return
            cached = (run, signature, _positional_range(signature))
            self.__dict__["_run_signature"] = cached
        least, most = cached[2]
        if not kwargs and least <= len(args) <= most:  # the usual call, settled without binding (µs per publish)
            return
        try:
            cached[1].bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}() {exc}") from None

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        """``apply_async(args, kwargs)``: send the task with default options."""
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Any = None, kwargs: Any = None, task_id: str | None = None, producer: Any = None,
                    link: Any = None, link_error: Any = None, shadow: str | None = None,
                    **options: Any) -> Any:  # fmt: skip
        """Send the task to workers (or run it eagerly under ``task_always_eager``)."""
        args, kwargs = _check_call(args, kwargs)
        app = self._get_app()
        if (self.typing if self.typing is not None else app.strict_typing):
            self.check_arguments(*args, **kwargs)
        if getattr(self, "_decorated_fun_run", None) is not None and options.get("serializer") != "pickle":
            args, kwargs = dump_pydantic_arguments(self, args, kwargs)  # pydantic=True (_pydantic.py)
        if publish_setting(app.conf, "task_always_eager"):
            args, kwargs = app.round_trip(args, kwargs)
            with denied_join_result():  # as on a worker: the task it runs must not wait for other results
                return self.apply(args, kwargs, task_id=task_id or random_uuid(), link=link, link_error=link_error,
                                  **options)
        return app._send(self.name, args, kwargs, options, task=self, task_id=task_id, link=link,
                         link_error=link_error, shadow=shadow, producer=producer)

    def apply(self, args: Any = None, kwargs: Any = None, link: Any = None, link_error: Any = None,
              task_id: str | None = None, retries: int | None = None, throw: bool | None = None,
              logfile: Any = None, loglevel: Any = None, headers: Mapping[str, Any] | None = None,
              **options: Any) -> EagerResult:  # fmt: skip
        """Run here with full tracing; eager retries re-run at once unless exceptions propagate (§3.3.7)."""
        args, kwargs = _check_call(args, kwargs)
        app = self._get_app()
        task_id = task_id or random_uuid()
        throw = app.conf.task_eager_propagates if throw is None else throw
        request = app.eager_request(self, task_id, args, kwargs, retries or 0, headers, options)
        outcome = trace(self, request, eager=True)
        if outcome.state == states.RETRY:
            if throw:
                raise outcome.retval
            retry: Retry = outcome.retval
            return self.apply(getattr(retry, "retry_args", None) or args,
                              getattr(retry, "retry_kwargs", None) or kwargs,
                              link=link, link_error=link_error, task_id=task_id, retries=(retries or 0) + 1,
                              throw=throw, headers=headers, **options)
        if outcome.state == states.FAILURE and throw:
            error = outcome.retval
            del outcome, request  # the raised traceback keeps this frame: not the request and outcome with it
            raise_traced(error)
        app.run_callbacks(self, request, outcome, link, link_error, eager=True)
        tb = outcome.einfo.traceback if outcome.einfo is not None else None
        state = states.SUCCESS if outcome.state == states.IGNORED else outcome.state
        return EagerResult(task_id, outcome.retval, state, traceback=tb, name=self.name, app=app)

    # -- retry ----------------------------------------------------------------------------------------
    def retry(self, args: Any = None, kwargs: Any = None, exc: BaseException | None = None, throw: bool = True,
              eta: Any = None, countdown: float | None = None, max_retries: int | None = None,
              **options: Any) -> Retry:  # fmt: skip
        """Ask for this task to run again with the same id (celery-surface §3.3); ``raise self.retry(...)``.

        Raises:
            Retry: the retry is scheduled (always, unless ``throw=False``).
            The given ``exc`` (or MaxRetriesExceededError without one): ``max_retries`` is exhausted.
        """
        request = self.request
        retries = request.retries + 1
        limit = self.max_retries if max_retries is None else max_retries
        if request.called_directly:
            _raise_with_context(exc or Retry("Task can be retried", None))
        if not eta and countdown is None:
            countdown = self.default_retry_delay
        new_args, new_kwargs = retry_arguments(self.run, request.args, request.kwargs, args, kwargs)
        if limit is not None and retries > limit:
            if exc is not None:
                _raise_with_context(exc)
            raise self.MaxRetriesExceededError(
                f"Can't retry {self.name}[{request.id}] args:{tuple(new_args)} kwargs:{new_kwargs}",
                task_args=new_args, task_kwargs=new_kwargs)
        ret = Retry(exc=exc, when=countdown if countdown is not None else eta, is_eager=request.is_eager,
                    sig=self._retry_signature(new_args, new_kwargs, options))
        ret.retry_args, ret.retry_kwargs = new_args, new_kwargs  # type: ignore[attr-defined]
        if not request.is_eager and not throw:
            request._pending_retry = ret
        if throw:
            raise ret
        return ret

    def _retry_signature(self, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
        try:
            return self.signature(args, kwargs, options={**options, "task_id": self.request.id})
        except ImportError:  # canvas not available: eager mode re-applies from retry_args instead
            return None

    # -- replacing --------------------------------------------------------------------------------------
    def replace(self, sig: Any) -> Any:
        """Replace this running task with ``sig``: its result (and place in a chain/group/chord) becomes
        ``sig``'s. Raises ``Ignore`` in a worker (``raise self.replace(...)``); eager, returns ``sig``'s value.

        Raises:
            ImproperlyConfigured: ``sig`` is part of a chord, or an empty chain.
        """
        return self.on_replace(sig)

    def on_replace(self, sig: Any) -> Any:
        """Override point (Celery 5.3+): called with the replacement; the default sends it."""
        return canvas().replace(self, sig)

    def add_to_chord(self, sig: Any, lazy: bool = False) -> Any:
        """Add ``sig`` to the header of the chord this running task belongs to; the body waits for it too.
        Returns its AsyncResult (see ``compat/_canvas_worker.py``)."""
        return canvas().add_to_chord(self, sig, lazy)

    # -- state ------------------------------------------------------------------------------------------
    def update_state(self, task_id: str | None = None, state: str | None = None, meta: Any = None,
                     **kwargs: Any) -> None:  # fmt: skip
        """Store a custom state (e.g. ``'PROGRESS'``) with ``meta`` as its info, for the running task."""
        request = self.request
        if task_id is not None and task_id != request.id:
            self.backend.store_result(task_id, meta, state or "")
            return
        ctx = getattr(request, "_ctx", None)
        if ctx is None:
            return  # direct or eager call: nothing is stored for it (Celery's eager default)
        ctx.progress({CELERY_STATE_KEY: {"state": state, "meta": meta}})

    def AsyncResult(self, task_id: str, **kwargs: Any) -> AsyncResult:  # noqa: N802 - Celery's name
        return AsyncResult(task_id, app=self._get_app(), task_name=self.name, **kwargs)

    # -- hooks (no-ops; override) ---------------------------------------------------------------------
    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        """Before ``run``, after ``task_prerun``."""

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """After the task returned."""

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """After the task raised (for good)."""

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """After the task asked to be retried."""

    def after_return(self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        """After SUCCESS or FAILURE (not RETRY); ``einfo`` is always None, as in Celery."""

    def shadow_name(self, args: Any, kwargs: Any, options: Any) -> str | None:
        return None

    # -- canvas (reached through _canvas_api.py: the canvas imports this module) -------------------------
    def signature(self, args: Any = None, *starargs: Any, **starkwargs: Any) -> Any:
        return canvas().signature(self, args, *starargs, **starkwargs)

    subtask = signature

    def s(self, *args: Any, **kwargs: Any) -> Any:
        return self.signature(args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Any:
        return self.signature(args, kwargs, immutable=True)

    def map(self, it: Any) -> Any:
        return canvas().xmap(self.s(), it)

    def starmap(self, it: Any) -> Any:
        return canvas().xstarmap(self.s(), it)

    def chunks(self, it: Any, n: int) -> Any:
        return canvas().chunks(self.s(), it, n)

    def __repr__(self) -> str:
        return f"<@task: {self.name} of {self._app.main if self._app is not None else '<unbound>'}>"

    def __reduce__(self) -> Any:
        return (_task_by_name, (self.name,)) if get_current_app() is not None else object.__reduce__(self)


def _task_by_name(name: str) -> Any:
    return get_current_app().tasks[name]


def _check_call(args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    if args is None:
        args = ()
    if not isinstance(args, (list, tuple)):
        raise TypeError("task args must be a list or tuple")
    if kwargs is None:
        kwargs = {}
    if type(kwargs) is not dict and not isinstance(kwargs, Mapping):  # a plain dict skips the ABC's check
        raise TypeError("task keyword arguments must be a mapping")
    return list(args), dict(kwargs)
