"""A Sentinel set that speaks TLS: master and replica listen on a TLS port only (``port 0``), the replica syncs
over TLS (``tls-replication``), and the sentinels reach the data nodes and each other over TLS; the sentinels
answer clients on a TLS port (and on a plain one, for kombu's plain-sentinels-in-front-of-TLS form).
Certificates come from the same throw-away CA as the TLS cluster (tests/redis_cluster.py ``Certificates``)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import redis

from .redis_cluster import FAST_REPLICATION, Certificates, RedisSentinels, SentinelServer
from .redis_server import RedisServer, free_port, quiet_port


class TLSRedisServer(RedisServer):
    """``redis-server --port 0 --tls-port <port>``: no plain port at all; readiness is asked over TLS."""

    def __init__(self, certs: Certificates, extra_args: tuple[str, ...] = ()) -> None:
        port = quiet_port()  # fixed: the replica and the sentinels are told it before it starts
        super().__init__(port, ("--port", "0", "--tls-port", str(port), "--tls-replication", "yes",
                                *certs.server_args(), *extra_args))  # fmt: skip
        self.certs = certs

    def _answers(self) -> bool:
        return tls_answers(self.port, self.certs)


def tls_answers(port: int, certs: Certificates) -> bool:
    """True once ``port`` completes a TLS handshake trusted by the test CA and answers PING."""
    context = ssl.create_default_context(cafile=str(certs.ca))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as s:  # fmt: skip
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class TLSSentinelServer(SentinelServer):
    """A sentinel on a TLS port that talks TLS to the data nodes. It also answers in plain text on
    ``plain_port``, as a set whose sentinels are plain in front of TLS data nodes would (kombu's default,
    where ``broker_use_ssl`` is for the master only); the TLS tests use ``port`` alone."""

    def __init__(self, conf: Path, certs: Certificates) -> None:
        super().__init__(conf)
        self.certs = certs
        self.plain_port = free_port()

    def start(self) -> TLSSentinelServer:
        self.process = subprocess.Popen(
            [self.binary, str(self.conf), "--sentinel", "--port", str(self.plain_port), "--tls-port", str(self.port),
             "--tls-replication", "yes", *self.certs.server_args(), "--bind", "127.0.0.1", "--dir", self.dir,
             "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not self._wait_ready():
            raise RuntimeError(f"redis-server --sentinel did not answer over TLS on port {self.port}")
        return self

    def _answers(self) -> bool:
        return tls_answers(self.port, self.certs)


class TLSRedisSentinels(RedisSentinels):
    """``RedisSentinels`` with every server on TLS; its URL is ``rediss+sentinel://`` with the test CA."""

    def __init__(self) -> None:
        self.certs = Certificates(Path(tempfile.mkdtemp(prefix="taskora-sentinel-tls-")))
        super().__init__()

    def _build(self) -> None:
        self.master = TLSRedisServer(self.certs, FAST_REPLICATION)
        self.replica = TLSRedisServer(self.certs, ("--replicaof", "127.0.0.1", str(self.master.port),
                                                   *FAST_REPLICATION))  # fmt: skip
        self.sentinels = [TLSSentinelServer(self._sentinel_conf(), self.certs) for _ in range(3)]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"rediss+sentinel://{hosts}/{self.service}/0?ssl_ca_certs={self.certs.ca}"

    def client(self, port: int, **options: Any) -> redis.Redis:
        return redis.Redis(port=port, ssl=True, ssl_ca_certs=str(self.certs.ca), **options)
