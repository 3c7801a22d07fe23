"""The observers of a worker's jobs (the CLI's log lines, a prefork child's reports to its supervisor, a test
runner's steps), called in the slot thread at each step of a job.

A hook implements only the events it cares about. A busy prefork child calls six or so events per job; looking up
each hook's method on every call (and missing it on the hooks that lack it) was a measurable part of a no-op job,
so each event's methods are looked up once, and again only when a hook is added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("taskora.worker")


class JobHooks:
    """Hooks in the order added; ``call(event, *args)`` runs each one's ``event`` method, logging what it raises."""

    def __init__(self) -> None:
        self._hooks: list[Any] = []
        self._methods: dict[str, tuple[Callable[..., Any], ...]] = {}

    def append(self, hook: Any) -> None:
        self._hooks.append(hook)
        self._methods = {}  # a new dict, not cleared in place: a slot thread may be reading the old one

    def extend(self, hooks: list[Any]) -> None:
        for hook in hooks:
            self.append(hook)

    def call(self, event: str, *args: Any) -> None:
        """Each hook's ``event(*args)``; a hook that raises is logged and the others still run."""
        known = self._methods  # the table of this moment: a hook added meanwhile starts a new one
        methods = known.get(event)
        if methods is None:
            methods = known[event] = self._look_up(event)
        for method in methods:
            try:
                method(*args)
            except Exception:
                log.exception("worker job hook %r.%s raised", getattr(method, "__self__", method), event)

    def _look_up(self, event: str) -> tuple[Callable[..., Any], ...]:
        return tuple(method for hook in self._hooks if (method := getattr(hook, event, None)) is not None)
