"""Runs the engine's scripts: as one Redis function library where the server has functions (Redis 7), else by SHA;
either is loaded again when the server has lost it (a restarted or failed-over Redis)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

import taskora.lua as engine

from ..errors import from_engine_reply
from .direct import DirectConnection, InFlight
from .process_id import current_pid
from .socket_timeouts import shut_down
from .topology import FAILOVER_ERRORS

_R = TypeVar("_R")  # what a command sent through _resent_once replies

log = logging.getLogger("taskora.redis")


def is_missing(error: object) -> bool:
    """Whether ``error`` says the script or function called is not on the server (its cache was flushed, the
    server restarted empty): the call did not run, so loading the engine and sending it again is safe."""
    return isinstance(error, NoScriptError) or (
        isinstance(error, ResponseError) and str(error).startswith("Function not found"))


def refused_for_memory(error: object) -> bool:
    """Whether ``error`` is Redis at ``maxmemory`` (``noeviction``) refusing a script call. Nothing ran: a function
    (without the ``allow-oom`` flag) is refused whole, and a script sent by ``EVALSHA`` is stopped at its first
    write that needs memory only while it has written nothing. By ``EVALSHA`` a claim or a completion, which free
    memory before they add any, still run, so a full Redis still drains while an enqueue is still refused: a call
    refused as a function is sent again by ``EVALSHA`` (one refused by ``EVALSHA`` gets the same answer again)."""
    return isinstance(error, ResponseError) and "used memory > 'maxmemory'" in str(error)


def must_resend(error: object) -> bool:
    """Whether a script call that failed with ``error`` did not run and is to be sent again through ``Script``."""
    return is_missing(error) or refused_for_memory(error)


class Script:
    """One engine script: its text and SHA1 for ``EVALSHA``, its name in the function library for ``FCALL``."""

    __slots__ = ("name", "text", "sha", "function", "_set")

    def __init__(self, name: str, owner: ScriptSet) -> None:
        self.name = name
        self.text = engine.load(name)
        self.sha = hashlib.sha1(self.text.encode("utf-8")).hexdigest()
        self.function = ""  # set by the ScriptSet when it runs the library
        self._set = owner

    def command(self, keys: list[str], args: list[Any]) -> tuple[Any, ...]:
        """The command that runs this script, for callers that send it themselves (pipelined, read later)."""
        if self._set.runs_functions():
            return ("FCALL", self.function, len(keys), *keys, *args)
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    def __call__(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        by_function = self._set.runs_functions()
        try:
            return self._run(client, keys, args, by_function)
        except FAILOVER_ERRORS:  # not the script's answer: the store is failing over (see topology.py)
            raise
        except ResponseError as exc:
            refused_as_function = by_function and refused_for_memory(exc)  # by EVALSHA it is the script's answer
            if not (is_missing(exc) or refused_as_function):
                raise from_engine_reply(str(exc)) from exc
            if by_function and is_missing(exc):  # the server lost the library: load it (by EVALSHA: _answer loads)
                self._set.load_all(client)
            by_function = not refused_as_function and self._set.runs_functions()
        return self._answer(client, keys, args, by_function)  # it did not run: send it again

    def _answer(self, client: Any, keys: list[str], args: list[Any], by_function: bool) -> Any:
        """The script's reply to a call sent again; by ``EVALSHA``, a script cache without it is loaded first."""
        try:
            if by_function:
                return self._run(client, keys, args, by_function=True)
            return self._answer_raw(client, keys, args)
        except FAILOVER_ERRORS:
            raise
        except ResponseError as exc:
            raise from_engine_reply(str(exc)) from exc

    def reply_by_sha(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        """This script's reply by ``EVALSHA`` (loaded into the script cache first if need be), an error reply as its
        exception, not raised: what a pipeline of such calls holds in its place."""
        try:
            return self._answer_raw(client, keys, args)
        except FAILOVER_ERRORS:
            raise
        except ResponseError as exc:
            return exc

    def _answer_raw(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return self._run(client, keys, args, by_function=False)
        except NoScriptError:
            client.script_load(self.text)
            return self._run(client, keys, args, by_function=False)

    def _run(self, client: Any, keys: list[str], args: list[Any], by_function: bool) -> Any:
        if by_function:
            return client.fcall(self.function, len(keys), *keys, *args)
        return client.evalsha(self.sha, len(keys), *keys, *args)

    def queue_in(self, pipe: Any, keys: list[str], args: list[Any]) -> None:
        """Queue this script on a pipeline (the caller preloads with ``ScriptSet.preload``)."""
        if self._set.runs_functions():
            pipe.fcall(self.function, len(keys), *keys, *args)
        else:
            pipe.evalsha(self.sha, len(keys), *keys, *args)


class ScriptSet:
    """All engine scripts, by name, as attributes (``scripts.claim(client, keys, args)``).

    With ``functions_client`` (a real Redis, not a cluster), the scripts run as one function library: its helpers
    are defined once when it loads, where ``EVALSHA`` defines them again on every call (about 5 µs of Redis' time
    a call, ``taskora.lua.library``). The first call asks the server whether it has the library and loads it; a
    server without functions (before Redis 7) or that refuses them (an ACL, a managed service) gets ``EVALSHA``.
    """

    def __init__(self, functions_client: Any = None) -> None:
        self.by_name = {name: Script(name, self) for name in engine.names()}
        for name, script in self.by_name.items():
            setattr(self, name, script)
        self._client = functions_client
        #: Whether scripts go as FCALL; None until the first call has asked the server.
        self.functions: bool | None = None if functions_client is not None else False
        self.library_name = self.library_text = ""
        if functions_client is not None:
            self.library_name, self.library_text = _library(self.by_name)

    def runs_functions(self) -> bool:
        if self.functions is None:
            self.functions = self._library_ready()
        return self.functions

    def _library_ready(self) -> bool:
        """Whether the server has the engine's library now (loading it if not) and lets this client call it; False
        when it has no functions, or an ACL forbids loading or calling them."""
        try:
            if not self._client.function_list(library=self.library_name):
                self._load_library()
            self._client.fcall(f"{self.library_name}_ready", 0)
            return True
        except FAILOVER_ERRORS:
            raise
        except ResponseError as exc:
            log.info("Redis runs no function library here (%s): engine scripts go by EVALSHA", exc)
            return False

    def _load_library(self) -> None:
        try:
            self._client.function_load(self.library_text)
        except ResponseError as exc:
            if "already exists" not in str(exc):  # else another process loaded it between the look and the load
                raise

    def preload(self, client: Any) -> None:
        """Have the engine on the server before calls that cannot load it midway (a redis-py pipeline): the library
        is there once the first call asked for it; scripts are put in the script cache."""
        if not self.runs_functions():
            for script in self.by_name.values():
                client.script_load(script.text)

    def load_all(self, client: Any) -> None:
        """Put the engine on the server again, after it answered that it lost it: the function library, or every
        script in the script cache."""
        if self.runs_functions():
            try:
                self._client.function_load(self.library_text, replace=True)
                return
            except FAILOVER_ERRORS:
                raise
            except ResponseError as exc:  # a server swapped for one that refuses functions: scripts from now on
                log.info("Redis refused the engine's function library (%s): engine scripts go by EVALSHA", exc)
                self.functions = False
        for script in self.by_name.values():
            client.script_load(script.text)

    def __getattr__(self, name: str) -> Script:  # only reached for a script that does not exist
        raise AttributeError(f"no engine script named {name!r}; have {sorted(self.by_name)}")


def _library(scripts: dict[str, Script]) -> tuple[str, str]:
    """The library's name (from its text: two taskora versions on one server keep a library each) and text, with
    each script's function name set on it."""
    draft, _ = engine.library("taskora")
    name = "taskora_" + hashlib.sha1(draft.encode("utf-8")).hexdigest()[:16]
    text, functions = engine.library(name)
    for script_name, function in functions.items():
        scripts[script_name].function = function
    return name, text


#: Parked connections a process keeps open for the next thread that needs one (``ThreadConnections.park``).
SPARES_KEPT = 16


class ThreadConnections:
    """Script calls on a connection owned by the calling thread.

    redis-py's ``Redis.execute_command`` takes a pooled connection per call (a lock, a readiness
    poll, a retry wrapper): about as long as the round trip itself on loopback. Transitions are
    the hot path, so each thread keeps one connection of its own for them: a ``DirectConnection``
    (a bare socket with hiredis) where the client's settings allow it, else one of redis-py's.
    Everything else (pipelines, reads, pub/sub, blocking waits) still goes through the normal clients.
    Fork-safe: a process only ever uses connections it opened itself. ``close`` closes every connection
    still open (the adapter's ``close``); one whose thread ended is closed when it is collected.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._pool = client.connection_pool
        self._direct = DirectConnection.supports(self._pool)
        self._local = threading.local()
        self._opened: weakref.WeakSet[Any] = weakref.WeakSet()
        #: Connections their threads parked while idle (``park``), for the next thread that needs one.
        self._spares: list[Any] = []
        self._spares_lock = threading.Lock()
        #: The wire check each new direct connection runs (connection_check.py; pooled ones get it from the pool).
        self.after_connect: Callable[[Any], None] | None = None

    def _connection(self) -> Any:
        pid = current_pid()  # no system call per script call (process_id.py)
        held = getattr(self._local, "held", None)
        if held is None or held[0] != pid:
            connection = self._spare(pid)
            if connection is None:
                connection = self._direct_connection() if self._direct else _PooledConnection(self._pool)
                self._opened.add(connection)
            held = self._local.held = (pid, connection)
        return held[1]

    def park(self) -> None:
        """Let another thread have this thread's connection until this one calls again (an idle slot waiting
        through the worker's shared wait, worker/shared_wait.py): a process then holds about as many
        connections as it has threads busy at once, not one per thread. Kept when replies sent ahead on it are
        still unread (they are this thread's to read). Past ``SPARES_KEPT`` parked at once it is closed instead:
        after a burst that kept every slot busy, an idle process goes back to holding few."""
        held = getattr(self._local, "held", None)
        if held is None or held[0] != current_pid() or held[1].has_unread:
            return
        self._local.held = None
        with self._spares_lock:
            if len(self._spares) < SPARES_KEPT:
                self._spares.append(held[1])
                return
        held[1].disconnect()

    def _spare(self, pid: int) -> Any:
        """A parked connection of this process, or None (a forked child drops its parent's: never its to use)."""
        with self._spares_lock:
            while self._spares:
                connection = self._spares.pop()
                if connection.pid == pid:
                    return connection
        return None

    def _direct_connection(self) -> DirectConnection:
        """A new direct connection running the wire check on connect (a pooled one gets it from its pool)."""
        connection = DirectConnection(self._pool)
        connection.after_connect = self.after_connect
        return connection

    def close(self) -> None:
        """Close the connections this process opened (a forked child's copies are its parent's: left alone)."""
        pid = os.getpid()
        for connection in list(self._opened):
            if connection.pid == pid:
                connection.disconnect()

    def cut(self, timeout_s: float) -> None:
        """Shut this process's connections down and bound their later reads and connects (adapters/cutting.py)."""
        pid = os.getpid()
        for connection in list(self._opened):
            if connection.pid == pid:
                connection.cut(timeout_s)

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        """One EVALSHA (every engine script is safe to resend, see ``call``)."""
        return self.call("EVALSHA", sha, numkeys, *keys_and_args)

    def call(self, *command: Any) -> Any:
        """One command. A call that fails on a connection opened earlier (Redis restarted, an idle
        connection dropped) is sent once more on a new one, so only commands safe to resend come here:
        engine scripts, reads, and blocking pops of the marker (a lost marker costs latency, not a job)."""
        return self._resent_once(lambda connection: connection.call(*command))

    def call_many(self, *commands: tuple[Any, ...]) -> list[Any]:
        """``commands`` in one write, one reply each (error replies as exceptions in the list); resent
        once like ``call``, so the same rule holds: only commands that are safe to send again."""
        return self._resent_once(lambda connection: connection.call_many(list(commands)))

    def send(self, *commands: tuple[Any, ...]) -> list[InFlight]:
        """``commands`` whose replies the caller reads later (``InFlight.result()``), working meanwhile. Only a
        direct connection sends ahead (in one write); redis-py's runs each command at once. A send that
        fails on a connection opened earlier is made once more on a new one, as in ``call``."""
        if not self._direct:
            done = []
            for command in commands:
                try:
                    done.append(InFlight.settled(self.call(*command)))
                except ResponseError as exc:
                    done.append(InFlight.settled(failure=exc))
            return done
        return self._resent_once(lambda connection: connection.send(*commands))

    def _resent_once(self, use: Callable[[Any], _R]) -> _R:
        """``use(connection)`` on this thread's connection; when it fails on a connection opened earlier
        (Redis restarted, an idle connection dropped), once more on a new one."""
        connection = self._connection()
        was_open = connection.is_connected
        try:
            return use(connection)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            if not was_open:
                raise
        return use(connection)

    def fcall(self, function: str, numkeys: int, *keys_and_args: Any) -> Any:
        """One FCALL (every engine script is safe to resend, see ``call``)."""
        return self.call("FCALL", function, numkeys, *keys_and_args)

    def script_load(self, text: str) -> Any:
        return self._client.script_load(text)


class _PooledConnection:
    """A redis-py connection with ``DirectConnection``'s small interface (TLS and other set-ups)."""

    def __init__(self, pool: Any) -> None:
        self._connection = pool.make_connection()
        self.pid = os.getpid()

    def disconnect(self) -> None:
        self._connection.disconnect()

    #: redis-py's connection runs each command at once (``send`` does not send ahead): nothing is left unread.
    has_unread = False

    def cut(self, timeout_s: float) -> None:
        connection = self._connection
        connection.socket_timeout = connection.socket_connect_timeout = timeout_s
        shut_down(getattr(connection, "_sock", None))

    def __del__(self) -> None:
        if self.pid == os.getpid():
            self._connection.disconnect()

    @property
    def is_connected(self) -> bool:
        return bool(self._connection.is_connected)

    def _connect(self) -> None:
        """Connect through ``connect()``, as redis-py's pool does: a Sentinel-managed connection asks the
        sentinels for the master there (sending first would connect to the default localhost:6379)."""
        if not self._connection.is_connected:
            self._connection.connect()

    def call(self, *command: Any) -> Any:
        try:
            self._connect()
            self._connection.send_command(*command)
            return self._connection.read_response()
        except (RedisConnectionError, RedisTimeoutError, OSError):
            self._connection.disconnect()  # the next send connects afresh
            raise

    def call_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        try:
            self._connect()
            self._connection.send_packed_command(self._connection.pack_commands(commands))
            replies = []
            for _ in commands:
                try:
                    replies.append(self._connection.read_response())
                except ResponseError as exc:  # NoScriptError included; the replies after it are still read
                    replies.append(exc)
            return replies
        except (RedisConnectionError, RedisTimeoutError, OSError):
            self._connection.disconnect()
            raise
