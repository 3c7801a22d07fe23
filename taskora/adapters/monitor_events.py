"""The monitor event stream: what a Celery-style ``Dispatcher`` sends, for ``Receiver``s (additive to wire v6).

Celery workers and monitors exchange events (``task-received``, ``worker-heartbeat``, custom types) over the broker.
Here the job transitions are in each task's ``:events`` stream already; what has no other home is an event a
program sends itself. Those go to one bounded stream, ``<root>:monitor-events``: one entry per event, its one
field ``event`` the event as JSON. One key, so it works on a Redis Cluster as is; ``MAXLEN ~`` keeps it bounded
as the task streams are. A reader pins its start with :meth:`monitor_events_end` (and
:meth:`stream_time_position` for streams it finds later) and reads with ``read_events``.
A TypeScript taskora neither writes nor reads it.
"""

from __future__ import annotations

from .core import RedisCore
from .replies import _text

#: Entries kept in the monitor stream (approximately, as ``XADD MAXLEN ~``), like a task's event stream.
MONITOR_EVENTS_MAXLEN = 10000
#: The highest sequence number of a stream entry id (``<ms>-<seq>``, seq an unsigned 64-bit number).
LAST_SEQUENCE = 2**64 - 1


class MonitorEventOps(RedisCore):
    """Writes to and the end of the monitor event stream (see the module docstring)."""

    def monitor_events_key(self) -> str:
        return f"{self.keys.root}:monitor-events"

    def publish_monitor_event(self, event_json: str, maxlen: int = MONITOR_EVENTS_MAXLEN) -> str:
        """Append one event (JSON text); returns its stream id."""
        return _text(self.client.xadd(self.monitor_events_key(), {"event": event_json}, maxlen=maxlen,
                                      approximate=True))

    def stream_time_position(self) -> str:
        """A stream position at Redis' clock now: the last id of the millisecond before, so a stream first read
        later from here shows what was added from this millisecond on (entry ids are Redis' time in ms), not its
        history."""
        reply = self.client.time()
        seconds, micros = next(iter(reply.values())) if isinstance(reply, dict) else reply  # a cluster: per node
        return f"{int(seconds) * 1000 + int(micros) // 1000 - 1}-{LAST_SEQUENCE}"

    def monitor_events_end(self) -> str:
        """The id of the stream's last entry ("0-0" when empty): a reader starting there sees only later events."""
        last = self.client.xrevrange(self.monitor_events_key(), count=1)
        return _text(last[0][0]) if last else "0-0"
