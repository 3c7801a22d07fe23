"""What a call without options works out the same way every time, worked out once per task (issue #22).

``task.delay(*args)`` resolves the task's publish defaults (eight attributes, their ``task_*`` settings),
routes them (``task_routes``, ``task_default_queue``), checks the limits and times they give, finds the
engine task of the queue and the message properties a job must keep. For a call that passes no option,
none of it depends on the call, only on the task, the settings and the router: a :class:`PublishPlan`
keeps those results on the task and a publish reuses it while all of these are unchanged:

- the app, its settings' ``version`` (any change made through ``app.conf``; settings read live from a
  source object have none, and nothing is kept for them), its router and its native app;
- the task's eight publish attributes (``add.queue = "other"`` is seen at the next call);
- the engine task still registered under its name.

Routing is kept only when every router is a ``task_routes`` mapping (its answer depends on the task name
only); a router function may look at the arguments, so with one each call is routed as it comes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .routing import MapRoute

__all__ = ["TASK_PUBLISH_DEFAULTS", "PublishPlan", "forget_plans", "plan_for", "publish_attributes"]

#: Task attributes that are default publish options.
TASK_PUBLISH_DEFAULTS = ("queue", "priority", "expires", "routing_key", "exchange", "time_limit",
                         "soft_time_limit", "ignore_result")


class PublishPlan:
    """The parts of a no-option publish of one task that only its task, settings and router decide."""

    __slots__ = ("app", "name", "version", "router", "native", "attributes", "defaults", "merged", "engine",
                 "kept_properties", "task_ignores", "timeless", "plain_options", "plain_origin")

    def __init__(self, app: Any, name: str, version: int, attributes: tuple[Any, ...], *, defaults: dict[str, Any],
                 merged: dict[str, Any], engine: Any, kept_properties: dict[str, Any] | None) -> None:  # fmt: skip
        self.app, self.name, self.version, self.attributes = app, name, version, attributes
        self.router, self.native = app.router, app._native
        self.defaults, self.merged, self.engine = defaults, merged, engine
        self.kept_properties = kept_properties
        self.task_ignores = bool(defaults.get("ignore_result"))
        #: No countdown/eta/expires among the task's options: its plain calls need no clock.
        self.timeless = all(merged.get(key) is None for key in ("countdown", "eta", "expires"))
        #: The engine's options of a plain call (no task sending it, no shadow, no links, no publish receivers):
        #: its job-hash fields and priority, the same for every such call from the process whose ``origin`` they
        #: carry (made at its first; _publish.py ``_plain_options``).
        self.plain_options: dict[str, Any] | None = None
        self.plain_origin = ""

    def holds(self, app: Any, name: str, version: int, attributes: tuple[Any, ...]) -> bool:
        """Whether this plan is still what a publish of ``name`` on ``app`` would work out."""
        return (self.version == version and self.app is app and self.name == name
                and self.router is app.router and self.native is app._native and self.attributes == attributes
                and self.native.tasks.get(self.engine.name) is self.engine)


def publish_attributes(task: Any) -> tuple[Any, ...]:
    """The task's publish attributes (None for one it lacks: a task has no ``queue`` unless given one), in
    ``TASK_PUBLISH_DEFAULTS`` order; spelled out, as a generator over the names costs twice as much."""
    return (getattr(task, "queue", None), getattr(task, "priority", None), getattr(task, "expires", None),
            getattr(task, "routing_key", None), getattr(task, "exchange", None), getattr(task, "time_limit", None),
            getattr(task, "soft_time_limit", None), getattr(task, "ignore_result", None))


Builder = Callable[[Any, Any, str, int, tuple[Any, ...]], PublishPlan]


def plan_for(app: Any, task: Any, name: str, build: Builder) -> PublishPlan | None:
    """The task's plan for a call without options, made by ``build(app, task, name, version, attributes)`` when
    the kept one no longer holds (a function, not a closure made on every call); None when nothing may be kept
    (no task object, live settings, a router function)."""
    if task is None:
        return None
    version = app.conf.version
    if version is None or not _routes_by_name(app.router.routes):
        return None
    attributes = publish_attributes(task)
    plan: PublishPlan | None = task.__dict__.get("_publish_plan")
    if plan is None or not plan.holds(app, name, version, attributes):
        plan = build(app, task, name, version, attributes)
        task.__dict__["_publish_plan"] = plan
    return plan


def _routes_by_name(routes: list[Any]) -> bool:
    """True when every router answers from the task name alone (``task_routes`` mappings, or none at all)."""
    return all(type(router) is MapRoute for router in routes)


def forget_plans(tasks: Any) -> None:
    """Drop the plans kept on ``tasks`` (an app closing): a plan holds the native app and engine task it was made
    for, and an app kept after its close must not keep those alive (their connections with them)."""
    for task in list(tasks):
        task.__dict__.pop("_publish_plan", None)
