"""A bare Redis connection for the hot path: one socket, hiredis parsing, nothing in between.

redis-py's ``Connection.send_command`` / ``read_response`` wrap each call in health checks,
timeout bookkeeping, retry and maintenance-notification hooks and a parser adapter; on loopback
that Python costs about half as much as the round trip itself, and a worker pays it per job. A
``DirectConnection`` speaks RESP2 over a plain TCP or Unix socket with ``hiredis.Reader``: the
command is packed by hiredis, sent with one ``sendall``, and the reply is read into the reader
until it holds one whole value.

It only covers the connections it can reproduce exactly — plain TCP or Unix sockets with a
password/username, a database number and a client name. Anything else (TLS, credential providers,
custom connection classes) keeps using redis-py: see ``DirectConnection.supports``. Errors are
redis-py's exception types, so callers handle both kinds of connection alike.
"""

from __future__ import annotations

import socket
from typing import Any

import hiredis
from redis.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import AuthenticationError, NoScriptError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Bytes asked of the socket per ``recv_into``; a claim reply is a few hundred bytes.
READ_SIZE = 65536


class DirectConnection:
    """One connection, opened lazily on first use and re-opened after a failure."""

    @staticmethod
    def supports(pool: Any) -> bool:
        """True when ``pool``'s connections are plain TCP/Unix ones this class can open the same way."""
        kwargs = pool.connection_kwargs
        return (pool.connection_class in (Connection, UnixDomainSocketConnection)
                and kwargs.get("credential_provider") is None
                and kwargs.get("redis_connect_func") is None)  # fmt: skip

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
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._buffer = bytearray(READ_SIZE)

    @property
    def is_connected(self) -> bool:
        return self._sock is not None

    def where(self) -> str:
        return self._unix_path or f"{self._address[0]}:{self._address[1]}"

    # -- opening ----------------------------------------------------------------------------------
    def connect(self) -> None:
        try:
            sock = self._open_socket()
        except TimeoutError as exc:
            raise RedisTimeoutError(f"Timeout connecting to Redis at {self.where()}") from exc
        except OSError as exc:
            raise RedisConnectionError(f"Error connecting to Redis at {self.where()}: {exc}") from exc
        self._sock, self._reader = sock, hiredis.Reader()
        try:
            self._introduce()
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
        sock.settimeout(self._timeout)
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
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- calling ----------------------------------------------------------------------------------
    def call(self, *command: Any) -> Any:
        """Send one command and return its reply; error replies raise (NoScriptError, ResponseError)."""
        if self._sock is None:
            self.connect()
        reply = self._round_trip(hiredis.pack_command(command), 1)[0]
        if isinstance(reply, hiredis.ReplyError):
            raise _error(reply)
        return reply

    def call_many(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one write and read one reply each. Redis runs them in order, each as
        soon as the one before it is done (also when that one blocked), with no round trip between.
        Error replies come back as exceptions in the list, so every reply is read."""
        if self._sock is None:
            self.connect()
        packed = b"".join(hiredis.pack_command(command) for command in commands)
        return [_error(r) if isinstance(r, hiredis.ReplyError) else r for r in self._round_trip(packed, len(commands))]

    def _round_trip(self, packed: bytes, count: int) -> list[Any]:
        sock, reader = self._sock, self._reader
        assert sock is not None and reader is not None
        try:
            sock.sendall(packed)
            replies: list[Any] = []
            while len(replies) < count:
                reply = reader.gets()
                while reply is False:
                    n = sock.recv_into(self._buffer)
                    if n == 0:
                        raise RedisConnectionError(f"Redis at {self.where()} closed the connection")
                    reader.feed(self._buffer, 0, n)
                    reply = reader.gets()
                replies.append(reply)
            return replies
        except TimeoutError as exc:
            self.disconnect()
            raise RedisTimeoutError(f"Timeout reading from Redis at {self.where()}") from exc
        except OSError as exc:
            self.disconnect()
            raise RedisConnectionError(f"Error talking to Redis at {self.where()}: {exc}") from exc
        except RedisConnectionError:
            self.disconnect()
            raise


def _error(reply: Any) -> Exception:
    """An error reply as the exception redis-py would raise for it."""
    text = str(reply)
    if text.startswith("NOSCRIPT"):
        return NoScriptError(text)
    return ResponseError(text[4:] if text.startswith("ERR ") else text)  # as redis-py words it
