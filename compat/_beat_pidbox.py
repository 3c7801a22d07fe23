"""Beat's remote-control node (Celery 5.7's ``BeatPidbox``): a running beat answers ``ping`` as
``celerybeat@host`` on the workers' control channel, and falls silent once its loop stops ticking.

Why silence and not an error reply: a liveness probe (``inspect ping -d celerybeat@host``) acts on the
absence of an answer; an error answer still counts as an answer. So the node answers ``ping`` only,
ignores every other command (a worker-only command such as ``active`` must not get beat's noise in its
output), and stops answering once the last tick is older than ``max_tick_age`` seconds.

It listens on taskora's control channel (``taskora.worker.control``), so ``app.control.ping()`` and
``taskora inspect ping`` reach it like a worker.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from taskora.worker.control import REPLY_TTL_S, ControlListener

from .utils.nodenames import default_nodename, host_format

__all__ = ["NODENAME_DEFAULT", "BeatPidbox", "beat_nodename"]

log = logging.getLogger("celery.beat")

#: The name half of beat's node name when the configured hostname has none.
NODENAME_DEFAULT = "celerybeat"


def beat_nodename(hostname: str | None = None) -> str:
    """The node name beat answers on: the worker's resolution (``%h``/``%n``/``%d``) with ``celerybeat``."""
    return host_format(default_nodename(hostname, NODENAME_DEFAULT))


class BeatPidbox:
    """The remote-control node of one :class:`~taskora.compat.beat.Service` (started by ``Service.start``)."""

    #: The floor of the derived ``max_tick_age``: one slow pass of a short loop must not look like a stall.
    min_tick_age = 60.0

    def __init__(self, service: Any) -> None:
        self.service = service
        self.app = service.app
        self.hostname = beat_nodename(service.hostname)
        self.thread: Any = None
        self._server: _BeatListener | None = None

    @property
    def max_tick_age(self) -> float:
        """``beat_remote_control_max_tick_age``, else twice the loop interval (at least ``min_tick_age``);
        0 disables the check."""
        configured = self.app.conf.get("beat_remote_control_max_tick_age")
        if configured is not None:
            return float(configured)
        interval = self.service.effective_max_interval or self.service.max_interval or 300.0
        return max(float(interval) * 2, self.min_tick_age)

    def tick_age(self) -> float | None:
        """Seconds since the loop last ticked, None before its first pass."""
        last_tick = self.service._last_tick
        return None if last_tick is None else time.monotonic() - last_tick

    def is_stale(self) -> bool:
        limit = self.max_tick_age
        age = self.tick_age()
        return bool(limit) and age is not None and age > limit

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _BeatListener(self)
        self._server.start()
        self.thread = self._server._thread

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._server = None
        self.thread = None


class _BeatListener(ControlListener):
    """The control-channel listener, answering ``ping`` addressed to beat while it keeps ticking."""

    def __init__(self, pidbox: BeatPidbox) -> None:
        super().__init__(pidbox.app.__taskora_app__)
        self.pidbox = pidbox

    def _answer(self, raw: Any) -> None:
        try:
            request = json.loads(raw)
        except (TypeError, ValueError):
            return
        if not isinstance(request, dict) or request.get("command") != "ping" or "id" not in request:
            return
        destination = request.get("destination")
        if destination and self.pidbox.hostname not in destination:
            return
        if self.pidbox.is_stale():
            log.warning("beat pidbox: not answering ping, the scheduler has not ticked for %.1fs (over the %ss "
                        "limit)", self.pidbox.tick_age() or 0.0, self.pidbox.max_tick_age)
            return
        reply = json.dumps({"hostname": self.pidbox.hostname, "reply": "pong"})
        self.app.adapter.control_reply(str(request["id"]), reply, REPLY_TTL_S)
