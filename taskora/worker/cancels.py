"""CancelListener: hear of cancels the moment they are published, for the jobs this worker holds."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from .reconnect import run_forever

if TYPE_CHECKING:
    from ..adapters.base import Adapter
    from ..task import Task
    from .held import HeldJobs

log = logging.getLogger("taskora.worker")


class CancelListener:
    """Subscribes to the cancel channels of the worker's tasks and aborts a running job whose cancel arrives.

    Invariant: it subscribes before the worker's first claim (``subscribe``), so no cancel of a job the worker
    holds is missed; a cancel of a job not running here is remembered in ``held`` (it may be claimed ahead);
    a lost channel is subscribed again, and the lock heartbeat reports cancels meanwhile.
    """

    def __init__(self, adapter: Adapter, tasks: list[Task[Any, Any]], held: HeldJobs, cold: threading.Event,
                 address: str) -> None:  # fmt: skip
        self.adapter = adapter
        self.tasks = tasks
        self.held = held
        self.cold = cold
        self.address = address
        self._pubsub: Any = None

    def subscribe(self) -> None:
        channels = {self.adapter.keys.cancel_channel(t.name) for t in self.tasks}
        if channels:
            self._pubsub = self.adapter.pubsub()
            self._pubsub.subscribe(*channels)

    def add_channel(self, task: Task[Any, Any]) -> None:
        """Listen for the cancels of a task this worker starts serving while running (``add_consumer``)."""
        if self._pubsub is not None:
            self._pubsub.subscribe(self.adapter.keys.cancel_channel(task.name))

    def run(self) -> None:
        """Listen until a cold stop."""
        if self.tasks:
            run_forever(self.address, self._listen, self.cold, on_lost=self.close, pause=1.0)
        self.close()

    def _listen(self) -> None:
        if self._pubsub is None:
            self.subscribe()
        while not self.cold.is_set():
            # a cold stop joins this thread: the poll bounds how long a stop waits on it (a select on the socket,
            # no Redis command per poll)
            message = self._pubsub.get_message(timeout=0.1)
            if message and message.get("type") == "message":
                self.on_message(message["data"])

    def close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # closing a broken connection may fail; nothing to do about it
                log.debug("closing the cancel subscription failed", exc_info=True)
            self._pubsub = None

    def on_message(self, raw: Any) -> None:
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        with self.held.lock:
            runtime = self.held.active.get(job_id)
            if runtime is None:  # maybe claimed here and not started yet; more likely another worker's job
                self.held.note_cancel(job_id)
        if runtime is not None:
            runtime.signal.abort("cancelled")
