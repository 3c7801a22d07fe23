"""Celery's task routing (``task_routes``, ``task_queues``, ``task_default_queue``) resolved to a queue name.

A Celery project decides where a task goes in four places; the first that says something wins:

1. options given at call time (``apply_async(queue=…, priority=…)``);
2. the task's own options (``@app.task(queue=…)``);
3. ``task_routes``: one router or a list/tuple of routers, asked in order, the first answer that is
   not None wins. A router is a dict (exact task names first, then glob keys such as
   ``'feed.tasks.*'`` and ``re.compile(...)`` keys in order; globs match from the start of the name),
   a list of ``(pattern, route)`` pairs, a function ``(name, args, kwargs, options, task=None, **kw)``,
   an object with Celery 3's ``route_for_task(name, args, kwargs)``, or the import path of either;
4. ``task_default_queue``.

A route is a queue name, a kombu ``Queue`` (or anything with ``.name``), or a dict of publish options
(``{'queue': 'video', 'priority': 5, 'routing_key': …}``). Route values only fill options left unset
(None) by 1 and 2: explicit options always win, key by key.

taskora has no AMQP exchanges: a route naming only an ``exchange``/``routing_key`` goes to the first
declared queue whose binding accepts that key (direct: equal keys; topic: ``*``/``#`` wildcards),
else to the default queue. Routing to a queue missing from ``task_queues`` raises
:class:`QueueNotFound` only when ``task_create_missing_queues`` is False, as in Celery.

:func:`validate_routes` checks the whole configuration up front (importing router paths), so a worker
fails at startup naming the bad entry instead of at the first publish.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import ImproperlyConfigured, QueueNotFound
from .config import load_object

__all__ = ["MapRoute", "QueueSpec", "Router", "glob_to_re", "prepare", "queue_specs", "validate_routes"]


@dataclass(frozen=True)
class QueueSpec:
    """A declared queue, read from a kombu ``Queue``, a ``task_queues`` dict entry or a name."""

    name: str
    routing_key: str | None = None
    exchange: str | None = None
    exchange_type: str | None = None
    max_priority: int | None = None


def glob_to_re(glob: str) -> str:
    """Celery's glob: ``*`` matches one or more characters, everything else literally."""
    return ".+?".join(re.escape(part) for part in glob.split("*"))


def _is_queue_like(obj: Any) -> bool:
    return not isinstance(obj, (str, Mapping)) and isinstance(getattr(obj, "name", None), str)


def _spec_from_object(queue: Any) -> QueueSpec:
    exchange = getattr(queue, "exchange", None)
    arguments = getattr(queue, "queue_arguments", None) or {}
    return QueueSpec(
        name=queue.name,
        routing_key=getattr(queue, "routing_key", None) or None,
        exchange=getattr(exchange, "name", exchange) or None,
        exchange_type=getattr(exchange, "type", None),
        max_priority=getattr(queue, "max_priority", None) or arguments.get("x-max-priority"),
    )


def _spec_from_dict(name: str, options: Mapping[str, Any]) -> QueueSpec:
    exchange = options.get("exchange")
    return QueueSpec(
        name=name,
        routing_key=options.get("routing_key") or options.get("binding_key"),
        exchange=getattr(exchange, "name", exchange),
        exchange_type=options.get("exchange_type") or getattr(exchange, "type", None),
        max_priority=(options.get("queue_arguments") or {}).get("x-max-priority"),
    )


def queue_specs(settings: Mapping[str, Any]) -> dict[str, QueueSpec]:
    """The declared queues by name: ``task_queues``, or only ``task_default_queue`` when unset.

    Raises:
        ImproperlyConfigured: an entry is neither a queue object, a name, nor a name -> options dict.
    """
    queues = settings.get("task_queues")
    default = settings.get("task_default_queue") or "celery"
    if not queues:
        return {default: QueueSpec(default, routing_key=default, exchange=default, exchange_type="direct")}
    if isinstance(queues, Mapping):
        return {name: _spec_from_dict(name, opts or {}) for name, opts in queues.items()}
    specs: dict[str, QueueSpec] = {}
    for index, queue in enumerate(queues):
        if isinstance(queue, str):
            spec = QueueSpec(queue, routing_key=queue)
        elif _is_queue_like(queue):
            spec = _spec_from_object(queue)
        else:
            raise ImproperlyConfigured(f"task_queues[{index}] must be a kombu Queue or a queue name, got {queue!r}")
        specs[spec.name] = spec
    return specs


def _check_route(route: Any, where: str) -> None:
    """Refuse a route value Celery could not use."""
    if isinstance(route, str) or _is_queue_like(route):
        return
    if isinstance(route, Mapping):
        queue = route.get("queue")
        if queue is None or isinstance(queue, str) or _is_queue_like(queue):
            return
        raise ImproperlyConfigured(f"{where}: 'queue' must be a queue name or a Queue, got {queue!r}")
    raise ImproperlyConfigured(f"{where}: a route must be a queue name, a Queue or a dict, got {route!r}")


def _as_route(route: Any) -> dict[str, Any]:
    if isinstance(route, Mapping):
        return dict(route)
    return {"queue": route}


class MapRoute:
    """A router built from a dict or a list of ``(pattern, route)`` pairs (see the module docstring)."""

    def __init__(self, mapping: Mapping[Any, Any] | Iterable[Any], where: str = "task_routes") -> None:
        self._exact: dict[str, Any] = {}
        self._patterns: list[tuple[re.Pattern[str], Any]] = []
        items = mapping.items() if isinstance(mapping, Mapping) else mapping
        for index, item in enumerate(items):
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise ImproperlyConfigured(f"{where}[{index}] must be a (pattern, route) pair, got {item!r}")
            key, route = item
            _check_route(route, f"{where}[{key!r}]")
            if isinstance(key, re.Pattern):
                self._patterns.append((key, route))
            elif not isinstance(key, str):
                raise ImproperlyConfigured(f"{where}: key {key!r} must be a task name, a glob or a re.Pattern")
            elif "*" in key:
                self._patterns.append((re.compile(glob_to_re(key)), route))
            else:
                self._exact[key] = route

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        if name in self._exact:
            return _as_route(self._exact[name])
        for pattern, route in self._patterns:
            if pattern.match(name):
                return _as_route(route)
        return None


class _LazyRouter:
    """A router given by import path, imported on first use (the module may import the app)."""

    def __init__(self, path: str, where: str) -> None:
        self.path, self.where = path, where
        self._target: Any = None

    def resolve(self) -> Any:
        if self._target is None:
            try:
                target = load_object(self.path)
            except (ImportError, AttributeError) as exc:
                raise ImproperlyConfigured(f"{self.where}: cannot import router {self.path!r}: {exc}") from exc
            if isinstance(target, type) and hasattr(target, "route_for_task"):
                target = target()  # Celery 3 router classes are instantiated
            if not (callable(target) or hasattr(target, "route_for_task")):
                raise ImproperlyConfigured(f"{self.where}: {self.path!r} is not a router (not callable)")
            self._target = target
        return self._target


def _expand(router: Any, where: str) -> Any:
    if isinstance(router, (Mapping, list, tuple)):
        return MapRoute(router, where)
    if isinstance(router, str):
        return _LazyRouter(router, where)
    if callable(router) or hasattr(router, "route_for_task"):
        return router
    raise ImproperlyConfigured(
        f"{where}: a router must be a dict, a list of pairs, a function or a path, got {router!r}"
    )


def prepare(routes: Any) -> list[Any]:
    """Expand the ``task_routes`` setting into an ordered list of routers.

    Raises:
        ImproperlyConfigured: naming the malformed entry (import paths are checked on first use).
    """
    if routes is None:
        return []
    if not isinstance(routes, (list, tuple)):
        return [_expand(routes, "task_routes")]
    return [_expand(router, f"task_routes[{index}]") for index, router in enumerate(routes)]


def _topic_matches(pattern: list[str], words: list[str]) -> bool:
    """AMQP topic binding: ``*`` is exactly one word, ``#`` zero or more."""
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_topic_matches(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _topic_matches(rest, words[1:])


def _binding_accepts(spec: QueueSpec, routing_key: str) -> bool:
    if spec.exchange_type == "fanout":
        return True
    if spec.exchange_type == "topic" and spec.routing_key:
        return _topic_matches(spec.routing_key.split("."), routing_key.split("."))
    return spec.routing_key == routing_key


class Router:
    """Resolves where a task message goes, with Celery's precedence.

    Build one per app from its settings (``Router(app.conf)``; any mapping with Celery's setting
    names works) and call :meth:`route` for every publish.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.routes = prepare(settings.get("task_routes"))
        self.queues = queue_specs(settings)
        self.default_queue: str = settings.get("task_default_queue") or "celery"
        create_missing = settings.get("task_create_missing_queues")
        self.create_missing: bool = True if create_missing is None else bool(create_missing)

    def route(
        self,
        name: str,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        task: Any = None,
        task_options: Mapping[str, Any] | None = None,
        task_queue: str | None = None,
    ) -> dict[str, Any]:
        """Return the publish options for one call, ``queue`` always set to a queue name.

        Args:
            name: The task name (``options['route_name']``, when given, is used for lookups instead).
            args, kwargs: The call's arguments, passed to router functions.
            options: Options given at call time; non-None values beat everything else.
            task: The task object, passed to router functions as ``task=``.
            task_options: The task's own routing options (``queue``, ``priority``, ``routing_key`` …).
            task_queue: Shorthand for ``task_options={'queue': …}``.

        Raises:
            QueueNotFound: the queue is not declared and ``task_create_missing_queues`` is False.
            ImproperlyConfigured: a router could not be imported or returned something unusable.
        """
        merged = {key: value for key, value in (task_options or {}).items() if value is not None}
        if task_queue is not None:
            merged["queue"] = task_queue
        merged.update({key: value for key, value in (options or {}).items() if value is not None})
        lookup_name = merged.pop("route_name", None) or name
        route = None
        if self.routes:  # most apps have none: no copies of the call's arguments to make
            route = self.lookup_route(lookup_name, tuple(args), dict(kwargs or {}), dict(merged), task)
        for key, value in (route or {}).items():
            if merged.get(key) is None:
                merged[key] = value
        merged["queue"] = self._queue_name(merged)
        return merged

    def lookup_route(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any], task: Any = None
    ) -> dict[str, Any] | None:
        """Ask the routers in order; the first answer that is not None, as a dict."""
        for index, router in enumerate(self.routes):
            answer = self._ask(router, name, args, kwargs, options, task)
            if answer is None:
                continue
            where = getattr(router, "where", None) or f"task_routes[{index}]"
            _check_route(answer, f"{where} returned")
            return _as_route(answer)
        return None

    @staticmethod
    def _ask(router: Any, name: str, args: Any, kwargs: Any, options: Any, task: Any) -> Any:
        target = router.resolve() if isinstance(router, _LazyRouter) else router
        if hasattr(target, "route_for_task"):
            return target.route_for_task(name, args, kwargs)
        return target(name, args, kwargs, options, task=task)

    def _queue_name(self, options: Mapping[str, Any]) -> str:
        queue = options.get("queue")
        if queue is None:
            queue = self._bound_queue(options) or self.default_queue
        if not isinstance(queue, str):
            return str(queue.name)  # a Queue object is used as given, declared or not (as in Celery)
        if queue not in self.queues and not self.create_missing:
            raise QueueNotFound(f"Queue {queue!r} missing from task_queues")
        return queue

    def _bound_queue(self, options: Mapping[str, Any]) -> str | None:
        routing_key = options.get("routing_key")
        if not routing_key:
            return None
        exchange = options.get("exchange")
        exchange_name = getattr(exchange, "name", exchange)
        for spec in self.queues.values():
            if exchange_name and spec.exchange and spec.exchange != exchange_name:
                continue
            if _binding_accepts(spec, routing_key):
                return spec.name
        return None


def validate_routes(settings: Mapping[str, Any]) -> Router:
    """Check ``task_routes`` and ``task_queues`` completely (importing router paths) and return the Router.

    Call at worker startup so a typo fails there, naming the entry, rather than at the first publish.

    Raises:
        ImproperlyConfigured: naming the bad entry.
    """
    router = Router(settings)
    for entry in router.routes:
        if isinstance(entry, _LazyRouter):
            entry.resolve()
    return router
