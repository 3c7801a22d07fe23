"""A bare Redis connection for the hot path: one socket, hiredis parsing, nothing in between.

redis-py's ``Connection.send_command`` / ``read_response`` wrap each call in health checks,
timeout bookkeeping, retry and maintenance-notification hooks and a parser adapter; on loopback
that Python costs about half as much as the round trip itself, and a worker pays it per job. A
``DirectConnection`` speaks RESP2 over a plain TCP or Unix socket with ``hiredis.Reader``: the
command is packed by hiredis, sent with one ``sendall``, and the reply is read into the reader
until it holds one whole value.

It only covers the connections it can reproduce exactly — TCP or Unix sockets with a
password/username, a database number and a client name, and TLS wrapped by redis-py's own code
(direct_tls.py) — and needs ``hiredis`` (a dependency; the hot path falls back to redis-py without it).
Anything else (credential providers, custom connection classes) keeps using redis-py: see
``DirectConnection.supports``. Errors are redis-py's exception types, so callers handle both kinds of
connection alike.
"""

from __future__ import annotations

import os
import socket
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from redis.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import AuthenticationError, BusyLoadingError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .direct_tls import is_tls_pool, tls_wrapper
from .reply_spin import ReplySpin, spin_budget_s
from .socket_timeouts import is_timeout, set_kernel_timeout, shut_down

try:  # installed with redis[hiredis]; where it cannot be imported, the hot path stays with redis-py
    import hiredis
except ImportError:  # pragma: no cover - exercised in a subprocess by tests/adapters/test_direct_connection.py
    hiredis = None  # type: ignore[assignment]

#: Bytes asked of the socket per ``recv_into``; a claim reply is a few hundred bytes.
READ_SIZE = 65536


class DirectConnection:
    """One connection, opened lazily on first use and re-opened after a failure."""

    @staticmethod
    def supports(pool: Any, *, ignore_connect_hook: bool = False) -> bool:
        """True when ``pool``'s connections are TCP (TLS or not) or Unix ones this class can open the same way
        (``ignore_connect_hook``: the caller vouches for the pool's connect hook, see slot_connections.py)."""
        kwargs = pool.connection_kwargs
        return (hiredis is not None
                and (pool.connection_class in (Connection, UnixDomainSocketConnection) or is_tls_pool(pool))
                and kwargs.get("credential_provider") is None
                and (ignore_connect_hook or _no_connect_hook(kwargs.get("redis_connect_func"))))  # fmt: skip

    def __init__(self, pool: Any) -> None:
        kwargs = pool.connection_kwargs
        is_unix = pool.connection_class is UnixDomainSocketConnection
        self._unix_path: str | None = kwargs.get("path") if is_unix else None
        self._address = (kwargs.get("host", "localhost"), int(kwargs.get("port", 6379)))
        self._db = int(kwargs.get("db") or 0)
        self._username = kwargs.get("username")
        self._password = kwargs.get("password")
        self._client_name = kwargs.get("client_name")
        self._timeout = kwargs.get("socket_timeout")
        self._connect_timeout = kwargs.get("socket_connect_timeout") or self._timeout
        self._keepalive = bool(kwargs.get("socket_keepalive"))
        self._tls = tls_wrapper(pool)  # None: plain TCP or Unix (direct_tls.py)
        #: Whether and how long a reply is polled for before sleeping on the socket (reply_spin.py; never on TLS).
        self.spin = ReplySpin(spin_budget_s() if self._tls is None else 0.0)
        self._sock: socket.socket | None = None
        #: Closes ``_sock`` once this connection is collected (``_close_when_collected``).
        self._closer: weakref.finalize[Any, Any] | None = None
        #: The process that opened it: a forked child never closes its parent's socket.
        self.pid = os.getpid()
        self._reader: Any = None
        self._buffer = bytearray(READ_SIZE)
        self._in_flight: deque[InFlight] = deque()  # sent with ``send``, replies not read yet, in order
        #: Run on every (re)connect before the first command: the wire handshake (connection_check.py).
        self.after_connect: Callable[[DirectConnection], None] | None = None

    @property
    def is_connected(self) -> bool:
        return self._sock is not None

    def where(self) -> str:
        return self._unix_path or f"{self._address[0]}:{self._address[1]}"

    def cut(self, timeout_s: float) -> None:
        """Wake a read blocked on this connection and bound the next ones (adapters/cutting.py)."""
        self._timeout = self._connect_timeout = timeout_s
        shut_down(self._sock)

    # -- opening ----------------------------------------------------------------------------------
    def connect(self) -> None:
        try:
            sock = self._open_socket()
        except TimeoutError as exc:
            raise RedisTimeoutError(f"Timeout connecting to Redis at {self.where()}") from exc
        except OSError as exc:
            raise RedisConnectionError(f"Error connecting to Redis at {self.where()}: {exc}") from exc
        self._sock, self._reader = sock, hiredis.Reader()
        self._closer = _close_when_collected(self, sock)
        try:
            self._introduce()
            if self.after_connect is not None:
                self.after_connect(self)
        except BaseException:
            self.disconnect()
            raise

    def _open_socket(self) -> socket.socket:
        if self._unix_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self._connect_timeout)
            sock.connect(self._unix_path)
        else:
            sock = socket.create_connection(self._address, timeout=self._connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._keepalive:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self._tls is not None:
                sock = self._tls(sock)
                sock.settimeout(self._timeout)  # an SSL socket keeps Python's own timeout
                return sock
        set_kernel_timeout(sock, self._timeout)  # no poll before each send and read (socket_timeouts.py)
        return sock

    def _introduce(self) -> None:
        """What redis-py does on connect for these settings: AUTH, SELECT, CLIENT SETNAME."""
        if self._password is not None:
            auth = ("AUTH", self._username, self._password) if self._username else ("AUTH", self._password)
            try:
                self.call(*auth)
            except ResponseError as exc:
                raise AuthenticationError(f"Redis at {self.where()} refused the credentials: {exc}") from exc
        if self._db:
            self.call("SELECT", self._db)
        if self._client_name:
            self.call("CLIENT", "SETNAME", self._client_name)

    def disconnect(self) -> None:
        sock, self._sock, self._reader = self._sock, None, None
        if self._closer is not None:
            self._closer.detach()
        while self._in_flight:
            self._in_flight.popleft().fail(RedisConnectionError(f"connection to Redis at {self.where()} was closed "
                                                                "before the reply was read"))
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    @property
    def has_unread(self) -> bool:
        """Whether replies to commands sent ahead are still to be read here (the connection is nobody else's then)."""
        return bool(self._in_flight)

    # -- calling ----------------------------------------------------------------------------------
    def call(self, *command: Any) -> Any:
        """Send one command and return its reply; error replies raise (NoScriptError, ResponseError)."""
        if self._in_flight:
            self._settle(None)  # replies come in order: read those of commands sent ahead first
        if self._sock is None:
            self.connect()
        reply = self._round_trip(hiredis.pack_command(command), 1, self.spin.wanted((command,)))[0]
        if isinstance(reply, hiredis.ReplyError):
            raise _error(reply)
        return reply

    def call_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one write and read one reply each. Redis runs them in order, each as
        soon as the one before it is done (also when that one blocked), with no round trip between.
        Error replies come back as exceptions in the list, so every reply is read."""
        if self._in_flight:
            self._settle(None)  # replies come in order: read those of commands sent ahead first
        if self._sock is None:
            self.connect()
        packed = b"".join(hiredis.pack_command(command) for command in commands)
        return [_error(r) if isinstance(r, hiredis.ReplyError) else r
                for r in self._round_trip(packed, len(commands), self.spin.wanted(commands))]

    def send(self, *commands: tuple[Any, ...]) -> list[InFlight]:
        """Send ``commands`` in one write without waiting for their replies: the caller works meanwhile and
        reads each with ``InFlight.result()``. Any later call on this connection reads them first
        (replies come in order). One write also means Redis runs them back to back."""
        if self._sock is None:
            self.connect()
        try:
            self._sock.sendall(b"".join(hiredis.pack_command(command) for command in commands))  # type: ignore[union-attr]
        except OSError as exc:
            raise self._lost(exc) from exc
        spin = self.spin.wanted(commands)
        pending = [InFlight(self, spin) for _ in commands]
        self._in_flight.extend(pending)
        return pending

    def _settle(self, target: InFlight | None) -> None:
        """Read replies of sent commands, in order, up to ``target`` (all of them for None)."""
        while self._in_flight:
            pending = self._in_flight[0]
            try:
                reply = self._read_reply(pending.spin)
            except (OSError, RedisConnectionError) as exc:
                failure = exc if isinstance(exc, RedisConnectionError) else self._lost(exc)
                self.disconnect()  # every command still in flight fails: no reply will come for any of them
                pending.fail(failure)  # this one with the error itself
                return
            self._in_flight.popleft()
            pending.settle(reply)
            if pending is target:
                return

    def _round_trip(self, packed: bytes, count: int, spin: bool = False) -> list[Any]:
        try:
            self._sock.sendall(packed)  # type: ignore[union-attr]
            return [self._read_reply(spin) for _ in range(count)]
        except RedisConnectionError:
            self.disconnect()
            raise
        except OSError as exc:
            raise self._lost(exc) from exc
        except BaseException:
            # Interrupted between the write and the last reply (a soft time limit's signal, a timeout's async
            # exception): the replies still to come would be read by the next call as its own. Drop the
            # connection instead; the next call opens a fresh one.
            self.disconnect()
            raise

    def _read_reply(self, spin: bool = False) -> Any:
        """One whole reply; ``spin``: the socket is polled first, for up to the spin's budget (reply_spin.py)."""
        reader = self._reader
        reply = reader.gets()
        while reply is False:
            n = self.spin.receive(self._sock, self._buffer) if spin else None  # type: ignore[arg-type]
            if n is None:
                n = self._sock.recv_into(self._buffer)  # type: ignore[union-attr]
            if n == 0:
                raise RedisConnectionError(f"Redis at {self.where()} closed the connection")
            reader.feed(self._buffer, 0, n)
            reply = reader.gets()
        return reply

    def _lost(self, exc: OSError) -> Exception:
        """A socket error as redis-py's exception. The connection is closed first: a partly sent command
        or partly read reply leaves it out of step."""
        self.disconnect()
        if is_timeout(exc):
            return RedisTimeoutError(f"Timeout reading from Redis at {self.where()}")
        return RedisConnectionError(f"Error talking to Redis at {self.where()}: {exc}")


def _close_when_collected(connection: DirectConnection, sock: socket.socket) -> weakref.finalize[Any, Any]:
    """Close ``sock`` when ``connection`` is collected (its thread ended), without a ResourceWarning.

    Not ``__del__``: a connection collected as part of a reference cycle (a request in flight points back at it,
    an app dropped unclosed) has its socket in the same garbage, and the collector finalizes those in no set
    order, so the socket could warn that it was never closed before ``__del__`` closed it. Held by the
    finalizer, the socket is not garbage until the connection is gone. A forked child's copy never closes it."""
    closer = weakref.finalize(connection, _close_in_opener, sock, connection.pid)
    closer.atexit = False  # at exit the process's sockets go with it
    return closer


def _close_in_opener(sock: socket.socket, pid: int) -> None:
    if os.getpid() == pid:
        sock.close()


class InFlight:
    """A command sent without waiting: ``result()`` reads its reply (or raises what went wrong)."""

    __slots__ = ("_connection", "_done", "_reply", "_failure", "spin")

    def __init__(self, connection: DirectConnection | None = None, spin: bool = False) -> None:
        self._connection = connection
        #: Whether its reply may be polled for (reply_spin.py): it does not block by design.
        self.spin = spin
        self._done = connection is None
        self._reply: Any = None
        self._failure: BaseException | None = None

    @classmethod
    def settled(cls, reply: Any = None, failure: BaseException | None = None) -> InFlight:
        """One whose reply is already known (a connection that cannot send ahead ran it at once)."""
        pending = cls()
        pending._reply, pending._failure = reply, failure
        return pending

    def settle(self, reply: Any) -> None:
        if isinstance(reply, hiredis.ReplyError):
            self._failure = _error(reply)
        else:
            self._reply = reply
        self._done = True

    def fail(self, exc: BaseException) -> None:
        self._failure, self._done = exc, True

    def result(self) -> Any:
        if not self._done:
            assert self._connection is not None
            self._connection._settle(self)
        if self._failure is not None:
            raise self._failure
        return self._reply


def _no_connect_hook(hook: Any) -> bool:
    """No connect hook, or only the adapter's wire check (which a DirectConnection runs itself)."""
    return hook is None or (bool(getattr(hook, "taskora_wire_check", False)) and hook.inner is None)


def _error(reply: Any) -> Exception:
    """An error reply as the exception redis-py would raise for it."""
    text = str(reply)
    if text.startswith("NOSCRIPT"):
        return NoScriptError(text)
    if text.startswith("LOADING"):  # a restarted Redis replaying its AOF: wait and retry, as redis-py's does
        return BusyLoadingError(text)
    return ResponseError(text[4:] if text.startswith("ERR ") else text)  # as redis-py words it
