"""``app.connection()``: the context object Celery code opens around monitors, control calls and event receivers.

It is no kombu connection (nothing here publishes AMQP messages or hands out kombu channels): it names one taskora
engine, checks that it answers (:meth:`Connection.ensure_connection`), and gives event receivers a channel to bind
their queue to (:attr:`Connection.default_channel`). With no URL, or the app's own broker URL, it is the app's
engine; another ``redis://`` URL opens an engine of its own, closed with the connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from taskora.errors import BrokerUnreachableError
from taskora.urls import mask_url

from ..exceptions import OperationalError

__all__ = ["Connection", "EventChannel"]


class EventChannel:
    """What ``connection.default_channel`` is: the binding point of event queues (``receiver.queue(channel)``)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def close(self) -> None:
        """Nothing to give back: the channel holds no socket of its own."""


class Connection:
    """A usable ``with app.connection() as conn:`` object for one engine (see the module docstring)."""

    def __init__(self, app: Any, url: str | None = None, **options: Any) -> None:
        self.app = app
        self.url = url or app.conf.effective().broker_url or "memory://"
        self.transport_options = options.get("transport_options") or {}
        self._own_adapter: Any = None
        self._connected = False
        self._closed = False
        self.default_channel = EventChannel(self)

    def __repr__(self) -> str:
        return f"<Connection: {self.as_uri()} at {id(self):#x}>"

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    # -- the engine ---------------------------------------------------------------------------------
    @property
    def adapter(self) -> Any:
        """The engine this connection names (the app's unless another URL was given)."""
        if self._closed:
            from taskora.errors import ConfigurationError

            raise ConfigurationError(f"connection to {self.as_uri()} is closed; open a new one with app.connection()")
        if not self._is_own_engine():
            return self.app.__taskora_app__.adapter
        if self._own_adapter is None:
            from taskora.redis import redis_adapter

            self._own_adapter = redis_adapter({"url": self.url})
        return self._own_adapter

    def _is_own_engine(self) -> bool:
        app_urls = {self.app.conf.broker_url, self.app.conf.effective().broker_url or "memory://"}
        return self.url not in app_urls and not self.url.startswith("memory")

    @contextmanager
    def errors(self) -> Iterator[None]:
        """An engine that cannot be reached raises kombu's ``OperationalError`` naming this connection's URL."""
        try:
            yield
        except OperationalError:
            raise
        except (BrokerUnreachableError, RedisConnectionError, RedisTimeoutError) as exc:
            raise OperationalError(f"Error connecting to the broker at {self.as_uri()}: {exc}") from exc

    def connect(self) -> Connection:
        """Check the engine answers; kombu's ``OperationalError`` naming the address when it does not."""
        with self.errors():
            self.adapter.connect()
        self._connected = True
        return self

    def ensure_connection(self, errback: Any = None, max_retries: int | None = None, interval_start: float = 2,
                          interval_step: float = 2, interval_max: float = 30, callback: Any = None,
                          reraise_as_library_errors: bool = True,
                          timeout: float | None = None) -> Connection:  # fmt: skip
        """:meth:`connect`, retried as kombu does: ``max_retries`` more times (None: until ``timeout``, or forever),
        waiting ``interval_start`` seconds, then ``interval_step`` more each time up to ``interval_max``;
        ``errback(exc, interval)`` hears each failure. The last failure raises."""
        waits = _intervals(interval_start, interval_step, interval_max)
        gate = threading.Event()
        deadline = None if timeout is None else _now() + timeout
        for attempt in _attempts(max_retries):
            try:
                return self.connect()
            except Exception as exc:
                interval = next(waits)
                if attempt == max_retries or (deadline is not None and _now() + interval > deadline):
                    raise
                if errback is not None:
                    errback(exc, interval)
                gate.wait(interval)
        raise AssertionError("unreachable")  # pragma: no cover - _attempts ends only through return or raise

    @property
    def connected(self) -> bool:
        return self._connected and not self._closed

    def close(self) -> None:
        """Close the engine this connection opened itself (never the app's); a closed connection can't be used."""
        own, self._own_adapter = self._own_adapter, None
        if own is not None:
            own.close()
        self._connected = False
        self._closed = True

    release = close

    def clone(self, **kwargs: Any) -> Connection:
        return Connection(self.app, kwargs.pop("url", self.url), **{**self.transport_options, **kwargs})

    def channel(self) -> EventChannel:
        return EventChannel(self)

    # -- what it names --------------------------------------------------------------------------------
    def as_uri(self, include_password: bool = False, mask: str = "**", getfields: Any = None) -> str:
        return self.url if include_password else mask_url(self.url, mask=mask)

    @property
    def transport_cls(self) -> str:
        return urlsplit(self.url).scheme or "memory"

    @property
    def hostname(self) -> str | None:
        return urlsplit(self.url).hostname

    @property
    def port(self) -> int | None:
        return urlsplit(self.url).port

    @property
    def virtual_host(self) -> str:
        return urlsplit(self.url).path.lstrip("/") or "/"

    def info(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "port": self.port, "transport": self.transport_cls,
                "virtual_host": self.virtual_host, "uri": self.as_uri()}  # fmt: skip


def _now() -> float:
    import time

    return time.monotonic()


def _attempts(max_retries: int | None) -> Any:
    """0, 1, 2, ... up to ``max_retries`` (forever with None)."""
    import itertools

    return itertools.count() if max_retries is None else range(max_retries + 1)


def _intervals(start: float, step: float, maximum: float) -> Any:
    value = start
    while True:
        yield min(value, maximum)
        value += step


class ConnectionsMixin:
    """Gives the Celery app ``connection()`` and its aliases (``app.events`` is compat/events/app_mixin.py)."""

    def connection(self, hostname: str | None = None, userid: Any = None, password: Any = None,
                   virtual_host: Any = None, port: Any = None, ssl: Any = None, connect_timeout: Any = None,
                   transport: Any = None, transport_options: Any = None, heartbeat: Any = None,
                   login_method: Any = None, failover_strategy: Any = None, **kwargs: Any) -> Connection:  # fmt: skip
        """A connection to the app's broker, or to ``hostname`` when that is a URL (Celery's first argument)."""
        return Connection(self, hostname, transport_options=transport_options)

    def connection_for_write(self, url: str | None = None, **kwargs: Any) -> Connection:
        return Connection(self, url, **kwargs)

    def connection_for_read(self, url: str | None = None, **kwargs: Any) -> Connection:
        return Connection(self, url, **kwargs)

    broker_connection = connection
