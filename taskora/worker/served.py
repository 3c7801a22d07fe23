"""ServedTasks: a worker process keeps the task names it serves in Redis, beside its liveness key, so that another
worker can tell a task name some live worker knows from one nobody knows (worker/unknown.py) without asking.

Asking (a ``registered`` broadcast with a timeout) confused "no worker knows it" with "a worker that knows it did
not answer in time" (a worker busy with a slow control command, a slow link), and a job of a known task was then
failed as unknown: lost. Instead every worker that answers control requests with a ControlHandler (each ``taskora
worker``, the Celery front's embedded test worker) starts a ServedTasks beside its ControlServer, which writes the
names the handler answers ``registered`` with, for ``SERVED_TTL_S``, refreshed every ``liveness.BEAT_EVERY_S``
(adapters/worker_registry.py) and at once when ``add_consumer``/``cancel_consumer`` change them
(``on_tasks_changed``). The lifetime is longer than the liveness key's on purpose:
failing a job is final, while a gone worker's names staying known a few seconds more only delays failing the
jobs of a name nobody serves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..adapters.base import CONNECTION_ERRORS
from .liveness import BEAT_EVERY_S, new_worker_id, refused_when_full
from .reconnect import OUTAGE, address_of
from .threads import Periodic

if TYPE_CHECKING:
    from ..adapters.base import Adapter
    from .control import ControlHandler

log = logging.getLogger("taskora.worker")

#: How long a worker's served names stay known without a beat.
SERVED_TTL_S = 10.0


class ServedTasks:
    """This worker process's entry in the served-task registry: ``names()`` is read at every beat."""

    def __init__(self, adapter: Adapter, names: Callable[[], Iterable[str]]) -> None:
        self.adapter = adapter
        self.names = names
        self.worker_id = new_worker_id()
        #: One write at a time, each of the names as they are when it starts. Without it a beat that read the names
        #: just before ``cancel_consumer`` changed them could write them after that command's own write: the
        #: dropped names would stay served until the next beat.
        self._writing = threading.Lock()
        self._beat = Periodic("taskora-served-tasks", self.publish, BEAT_EVERY_S,
                              what="writing this worker's task names")

    def start(self) -> None:
        """Write the names now, then keep them fresh."""
        self.refresh()
        self._beat.start()

    def refresh(self) -> None:
        """Write the names now (they changed, or we start); if Redis is unreachable, the beat writes them later."""
        try:
            self.publish()
        except CONNECTION_ERRORS as exc:
            log.debug("writing this worker's task names failed: %s", exc)

    def publish(self) -> None:
        """Write the names; a Redis at ``maxmemory`` refusing it is logged, and the next beat tries again."""
        try:
            with self._writing:
                self.adapter.publish_served(self.worker_id, self.names(), int(SERVED_TTL_S * 1000))
        except Exception as exc:  # a lost connection is re-raised too: Periodic logs it
            if not refused_when_full(exc):
                raise
            log.warning("Redis is full (maxmemory) and refused this worker's task names: %s", exc)

    def stop(self) -> None:
        """A clean stop: the names leave with the worker."""
        self._beat.stop()
        if OUTAGE.was_cut(address_of(self.adapter)):  # Redis went silent: the names lapse in SERVED_TTL_S
            return
        try:
            self.adapter.withdraw_served(self.worker_id)
        except CONNECTION_ERRORS as exc:  # they lapse on their own
            log.debug("removing this worker's task names failed: %s", exc)


def on_tasks_changed(handler: ControlHandler, served: ServedTasks) -> Callable[[list[str]], None]:
    """What a worker's live operations call (LiveOps ``on_tasks``) when ``add_consumer``/``cancel_consumer`` change
    its tasks: the handler answers ``registered`` with the new names, and they are written now, before the command
    replies, not at the next beat (a job of an added task must not be judged unknown in between)."""

    def changed(names: list[str]) -> None:
        handler.task_names = names
        served.refresh()

    return changed
