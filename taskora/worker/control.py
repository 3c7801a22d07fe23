"""Remote control: ``taskora inspect`` asks every live worker over one pub/sub channel.

A request is published as JSON ``{"id", "command", "args", "destination"}`` on the control channel;
each worker that is addressed pushes ``{"hostname": ..., "reply": ...}`` to the request's reply list
(which expires on its own). The caller knows how many workers heard the request from PUBLISH's
return value, so it stops as soon as they have all answered, or at the timeout.

The listener only answers. A worker that answers ``registered`` also keeps those task names in Redis (served.py,
started beside this server by the worker), so that whether a live worker knows a task name is read, not asked: a
worker busy answering a slow request would not answer in time. Beat's node (compat/_beat_pidbox.py) listens here
too and serves no task.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..adapters.base import CONNECTION_ERRORS
from .live_ops import LIVE_COMMANDS
from .reconnect import OUTAGE, address_of

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.worker.control")

#: Commands every worker answers (``shutdown`` only a worker that can be stopped: the CLI's).
COMMANDS = ("ping", "active", "reserved", "scheduled", "stats", "registered", "shutdown")
#: How long an unread reply list lives.
REPLY_TTL_S = 60
#: Commands added by a front end (the Celery front's ``control_command``): ``fn(handler, **args)``.
EXTRA_COMMANDS: dict[str, Callable[..., Any]] = {}


def register_command(name: str, fn: Callable[..., Any]) -> None:
    """Make every worker of this process answer ``name`` with ``fn(handler, **args)``."""
    if name in COMMANDS or name in LIVE_COMMANDS:
        raise ValueError(f"control command {name!r} is built in and cannot be replaced")
    EXTRA_COMMANDS[name] = fn


class ControlHandler:
    """Answers the commands for one worker (a threads process or a prefork supervisor)."""

    def __init__(self, app: Taskora, task_names: Iterable[str], hostname: str, *, pool: str, concurrency: int,
                 active: Callable[[], list[dict[str, Any]]], stats: Callable[[], dict[str, Any]],
                 request_stop: Callable[[], None] | None = None, ops: Any = None) -> None:  # fmt: skip
        self.app = app
        #: The worker's live operations (live_ops.LiveOps: pool_grow, add_consumer, ...); None: it has none.
        self.ops = ops
        #: What SIGTERM does to this worker (a warm shutdown); None where nothing may stop it remotely.
        self._request_stop = request_stop
        self.task_names = list(task_names)
        self.hostname = hostname
        self.pool = pool
        self.concurrency = concurrency
        self._active = active
        self._stats = stats
        self.started = time.time()

    def handle(self, command: str, args: dict[str, Any]) -> Any:
        if command in LIVE_COMMANDS:
            if self.ops is None:
                return {"error": f"{command}: this worker does not change in place (it runs inside its application)"}
            return self.ops.handle(command, args)
        extra = EXTRA_COMMANDS.get(command)
        if extra is not None:
            return extra(self, **args)
        if command not in COMMANDS:
            known = ", ".join([*COMMANDS, *LIVE_COMMANDS, *sorted(EXTRA_COMMANDS)])
            return {"error": f"unknown control command {command!r}; known: {known}"}
        return getattr(self, f"cmd_{command}")(**args)

    def cmd_ping(self) -> str:
        return "pong"

    def cmd_reserved(self) -> list[dict[str, Any]]:
        """The jobs this worker claimed and has not started (waiting for its budget, or claimed ahead), as
        Celery's ``inspect reserved`` lists prefetched messages; none for a worker without a pool to ask."""
        return [] if self.ops is None else list(self.ops.pool.reserved())

    def cmd_active(self) -> list[dict[str, Any]]:
        """The running jobs; each names the ``pid`` running it (a prefork child's, else this process's)."""
        return [{"pid": os.getpid(), **job} for job in self._active()]

    def cmd_registered(self) -> list[str]:
        return sorted(self.task_names)

    def cmd_scheduled(self) -> list[dict[str, Any]]:
        """Delayed jobs (eta/countdown, retry backoff) of the tasks this worker runs, soonest first."""
        found = [{"id": job_id, "task": name, "eta_ms": due}
                 for name in self.task_names for job_id, due in self.app.adapter.delayed_head(name, 100)]
        return sorted(found, key=lambda j: j["eta_ms"])

    def cmd_shutdown(self, msg: str = "Got shutdown from remote") -> dict[str, str]:
        """A warm shutdown, as SIGTERM: running jobs finish, then the worker exits."""
        if self._request_stop is None:
            return {"error": "this worker is not stopped remotely (it runs inside its application)"}
        log.warning("%s: %s", self.hostname, msg)
        self._request_stop()
        return {"ok": "shutting down"}

    def cmd_stats(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "pid": os.getpid(), "pool": self.pool, "concurrency": self.concurrency,
                "uptime_s": round(time.time() - self.started, 3), "broker": self.app.adapter.address,
                **self._stats()}


class ControlListener:
    """A daemon thread subscribed to the control channel, resubscribing after an outage; ``_answer`` gets each
    request (a subclass says how: ControlServer through a worker's ControlHandler, beat's node by itself)."""

    def __init__(self, app: Taskora) -> None:
        self.app = app
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="taskora-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        channel = self.app.adapter.keys.control_channel
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self.app.adapter.pubsub()
                pubsub.subscribe(channel)
                while not self._stop.is_set():
                    # stop() joins this thread: the poll bounds how long it waits (a select, no command per poll)
                    message = pubsub.get_message(timeout=0.1)
                    if message and message.get("type") == "message":
                        self._answer_guarded(message["data"])
            except CONNECTION_ERRORS as exc:
                OUTAGE.lost(address_of(self.app.adapter), exc, "control channel; resubscribing")
                self._stop.wait(1.0)
            finally:
                if pubsub is not None:
                    _close_quietly(pubsub)

    def _answer_guarded(self, raw: Any) -> None:
        """Answer one request; whatever goes wrong with it (but the connection) is logged, and the loop goes on
        to the next request: one bad command or reply never leaves a worker deaf to ping and shutdown."""
        try:
            self._answer(raw)
        except CONNECTION_ERRORS:
            raise
        except Exception:
            log.exception("control request %.200r could not be answered; the control loop goes on", raw)

    def _answer(self, raw: Any) -> None:
        raise NotImplementedError  # each listener answers in its own way


class ControlServer(ControlListener):
    """A worker's control listener: each request addressed to it is answered by its ControlHandler."""

    def __init__(self, app: Taskora, handler: ControlHandler) -> None:
        super().__init__(app)
        self.handler = handler

    def _answer(self, raw: Any) -> None:
        try:
            request = json.loads(raw)
            destination = request.get("destination")
            if destination and self.handler.hostname not in destination:
                return
            reply = self.handler.handle(request["command"], request.get("args") or {})
        except Exception as exc:  # a bad request must not kill the control thread
            log.exception("control request %r failed", raw)
            reply, request = {"error": f"{type(exc).__name__}: {exc}"}, _maybe_json(raw)
        if "id" not in request:
            return
        self.app.adapter.control_reply(str(request["id"]), encode_reply(self.handler.hostname, request, reply),
                                       REPLY_TTL_S)


def encode_reply(hostname: str, request: dict[str, Any], reply: Any) -> str:
    """The reply as JSON (values JSON has no type for as text); a reply no encoder can write (a cycle, a
    ``__str__`` that raises) becomes an error reply that says so, logged, instead of no answer."""
    try:
        return json.dumps({"hostname": hostname, "reply": reply}, default=str)
    except (TypeError, ValueError, RecursionError) as exc:  # a cycle; nesting too deep; a key JSON cannot take
        command = request.get("command")
        log.error("control: the reply of %r cannot be encoded as JSON (%s: %s)", command, type(exc).__name__, exc)
        error = f"the reply of {command!r} cannot be encoded as JSON ({type(exc).__name__}: {exc})"
        return json.dumps({"hostname": hostname, "reply": {"error": error}})


def _maybe_json(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw)
        return value if isinstance(value, dict) else {}
    except (TypeError, ValueError):
        return {}


def _close_quietly(pubsub: Any) -> None:
    try:
        pubsub.close()
    except Exception:  # the connection may already be gone
        log.debug("closing the control subscription failed", exc_info=True)


def broadcast(app: Taskora, command: str, *, args: dict[str, Any] | None = None, timeout: float = 1.0,
              destination: Iterable[str] | None = None, limit: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Send ``command`` to live workers; returns ``{hostname: reply}`` from those that answered in time, without
    waiting for more than ``limit`` replies (nor more than the named ``destination``s or the listeners)."""
    adapter = app.adapter
    request_id = uuid.uuid4().hex
    targets = list(destination) if destination else None
    request = {"id": request_id, "command": command, "args": args or {}, "destination": targets}
    listeners = adapter.control_publish(json.dumps(request))
    expected = min(listeners, len(targets) if targets else listeners, listeners if limit is None else limit)
    replies: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while len(replies) < expected:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        raw = adapter.control_wait_reply(request_id, left)
        if raw is None:
            break
        entry = json.loads(raw)
        replies[entry["hostname"]] = entry["reply"]
    adapter.control_forget(request_id)
    return replies


def default_hostname() -> str:
    return socket.gethostname()
