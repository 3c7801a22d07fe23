"""Sentinel over TLS, and a master discovery that says why it found no master.

A ``rediss+sentinel://`` URL means TLS all the way: to the sentinels (asked where the master is) and to the
master they name, with the same ``ssl_*`` settings (CA, client certificate, ``ssl_cert_reqs``), as a set
started with ``tls-port`` and ``port 0`` on every server needs. redis-py's ``Sentinel`` gives its sentinel
clients only ``sentinel_kwargs``, so the TLS settings are copied there too. A plain ``redis+sentinel://`` or
kombu's ``sentinel://`` given ``ssl_*`` options (Celery's ``broker_use_ssl``) reaches the master over TLS and
the sentinels in plain text, as kombu does.

redis-py's ``discover_master`` reports a failure as the ``repr`` of each sentinel client followed by the
error's class name: an untrusted certificate reads "No master found for 'mymaster' : <redis.client.Redis(...)>
- network:ConnectionError", hiding the one fact that matters. ``ExplainedSentinel`` asks the sentinels the
same way and, when none names a master, raises ``MasterNotFoundError`` naming the URL (password masked),
each sentinel's address and its error text ("certificate verify failed ...").
"""

from __future__ import annotations

from typing import Any

from redis import sentinel as redis_sentinel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: redis-py's ``Sentinel`` and the error its pools raise when no sentinel names a master (untyped there).
_Sentinel: Any = redis_sentinel.Sentinel
MasterNotFoundError: Any = redis_sentinel.MasterNotFoundError


def with_master_tls(connection: dict[str, Any]) -> dict[str, Any]:
    """``connection`` with ``ssl=True`` when it carries ``ssl_*`` settings: ``master_for`` then picks redis-py's
    TLS connection class (its plain one refuses ``ssl_*`` arguments with a TypeError)."""
    if any(name.startswith("ssl_") for name in connection) and "ssl" not in connection:
        return {**connection, "ssl": True}
    return connection


def tls_settings(connection: dict[str, Any]) -> dict[str, Any]:
    """The TLS part of the master's connection options (``ssl`` and every ``ssl_*``), for the sentinels too;
    empty when the master is not reached over TLS."""
    if not connection.get("ssl"):
        return {}
    return {name: value for name, value in connection.items() if name == "ssl" or name.startswith("ssl_")}


class ExplainedSentinel(_Sentinel):  # type: ignore[misc]
    """``Sentinel`` whose failed master discovery names the URL and what each sentinel answered."""

    def __init__(self, sentinels: list[tuple[str, int]], *, address: str, **options: Any) -> None:
        super().__init__(sentinels, **options)
        #: The URL (password masked) or a description of the set, for error messages.
        self.address = address

    def discover_master(self, service_name: str) -> tuple[str, int]:
        """The master's address from the first sentinel that sees it up, as redis-py's does; that sentinel is
        asked first next time."""
        problems: list[str] = []
        for number, sentinel in enumerate(self.sentinels):
            try:
                masters = sentinel.sentinel_masters()
            except (RedisConnectionError, RedisTimeoutError) as exc:
                problems.append(f"{_where(sentinel)}: {exc}")
                continue
            state = masters.get(service_name)
            if state and self.check_master_state(state, service_name):
                self.sentinels[0], self.sentinels[number] = sentinel, self.sentinels[0]
                forced = getattr(self, "_force_master_ip", None)  # redis-py's force_master_ip option
                return (forced if forced is not None else state["ip"]), state["port"]
            problems.append(f"{_where(sentinel)}: {_state_text(state)}")
        raise MasterNotFoundError(f"no sentinel of {self.address} names a master {service_name!r} that is up: "
                                  + "; ".join(problems))  # fmt: skip


def _where(sentinel: Any) -> str:
    kwargs = sentinel.connection_pool.connection_kwargs
    return f"{kwargs.get('host')}:{kwargs.get('port')}"


def _state_text(state: dict[str, Any] | None) -> str:
    if not state:
        return "does not monitor it"
    if state.get("is_odown") or state.get("is_sdown"):
        return "sees it down"
    if not state.get("is_master"):
        return "sees it as a replica"
    return "sees too few other sentinels"
