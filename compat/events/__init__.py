"""``app.events``: Celery's event API (Dispatcher, Receiver, State) over taskora's event streams.

See docs/migration/api.md ("Events and monitors"): task events come from the job transitions the engine records
anyway (no ``-E`` needed), and ``Dispatcher.send`` reaches every ``Receiver`` on the same engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import dispatcher, receiver, state
from .dispatcher import Dispatcher
from .receiver import Receiver
from .state import State

__all__ = ["Events", "Dispatcher", "Receiver", "State"]


class Events:
    """``app.events``: the three event classes bound to one app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def Dispatcher(self, connection: Any = None, hostname: str | None = None,  # noqa: N802
                   enabled: bool = True, channel: Any = None, buffer_while_offline: bool = True,
                   **kwargs: Any) -> dispatcher.Dispatcher:  # fmt: skip
        return Dispatcher(connection, hostname=hostname, enabled=enabled, channel=channel,
                          buffer_while_offline=buffer_while_offline, app=self.app, **kwargs)  # fmt: skip

    def Receiver(self, channel: Any, handlers: dict[str, Any] | None = None, routing_key: str = "#",  # noqa: N802
                 node_id: str | None = None, **kwargs: Any) -> receiver.Receiver:  # fmt: skip
        return Receiver(channel, handlers=handlers, routing_key=routing_key, node_id=node_id, app=self.app, **kwargs)

    def State(self, **kwargs: Any) -> state.State:  # noqa: N802
        return State(**kwargs)

    @contextmanager
    def default_dispatcher(self, hostname: str | None = None, enabled: bool = True,
                           buffer_while_offline: bool = False) -> Iterator[dispatcher.Dispatcher]:  # fmt: skip
        with self.app.connection_for_write() as connection:
            with self.Dispatcher(connection, hostname, enabled, buffer_while_offline=buffer_while_offline) as d:
                yield d
