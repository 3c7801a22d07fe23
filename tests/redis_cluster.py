"""Throwaway Redis Cluster (3 masters, 3 replicas) and Sentinel set-ups for the test session, on free loopback
ports, without persistence. Started by session fixtures only when a test asks for them (tests/conftest.py)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from taskora.errors import ConfigurationError

from .redis_server import RedisServer, quiet_port

#: A replica that never finished its first sync cannot be promoted; Redis waits 5 s before a diskless sync by
#: default, so a master killed early would take its slots down with it.
FAST_REPLICATION = ("--repl-diskless-sync-delay", "0")
#: How long a master may be silent before its replica takes over (ms): short, so a failover test is quick.
NODE_TIMEOUT_MS = 1000
#: How many times a set of servers is built again on fresh ports. A port is picked free and bound a moment
#: later, when the whole set starts: another process (a client's outgoing connection, the other xdist
#: worker's servers) may take it in between, and the server then exits at once.
SET_ATTEMPTS = 5


def start_all(servers: list[RedisServer]) -> bool:
    """Start every server of a set; False, with all of them stopped, as soon as one does not start."""
    for server in servers:
        try:
            server.start()
        except (ConfigurationError, RuntimeError):
            for started in servers:
                started.stop()
            return False
    return True


def replica_in_sync(client: redis.Redis) -> bool:
    """True for a master, or for a replica whose link to its master is up (it can be promoted)."""
    info = client.info("replication")
    return info.get("role") != "slave" or info.get("master_link_status") == "up"


class RedisCluster:
    """Six ``redis-server --cluster-enabled yes`` nodes, joined by ``redis-cli --cluster create``
    with ``--cluster-replicas 1``: 3 masters, each with a replica."""

    def __init__(self, masters: int = 3) -> None:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (apt-get install -y redis-tools)")
        self.cli = cli
        self.size = masters * 2
        self.nodes = self._new_nodes()

    def _new_nodes(self) -> list[RedisServer]:
        return [self._node() for _ in range(self.size)]

    @staticmethod
    def _node() -> RedisServer:
        port = quiet_port(with_bus=True)
        conf = Path(tempfile.mkdtemp(prefix="taskora-cluster-")) / "nodes.conf"
        return RedisServer(port, ("--cluster-enabled", "yes", "--cluster-config-file", str(conf),
                                  "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                                  *FAST_REPLICATION))  # fmt: skip

    @property
    def url(self) -> str:
        """The cluster URL form taskora reads (``redis+cluster://host:port,host:port/``)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3]) + "/"

    def start(self) -> RedisCluster:
        self._start_nodes()
        addresses = [f"127.0.0.1:{n.port}" for n in self.nodes]
        subprocess.run([self.cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)  # fmt: skip
        self.wait_healthy()
        return self

    def _start_nodes(self) -> None:
        """Every node up on its port; the nodes know nothing of each other yet, so a set with a port taken
        is simply replaced by a new one."""
        for _attempt in range(SET_ATTEMPTS):
            if start_all(self.nodes):
                return
            self.nodes = self._new_nodes()
        raise RuntimeError(f"the test cluster's nodes did not start in {SET_ATTEMPTS} sets of fresh ports")

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every running node reports ``cluster_state:ok`` and every slot has a master."""
        deadline = time.monotonic() + timeout
        while not self._healthy():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test cluster was not healthy within {timeout}s")
            time.sleep(0.05)  # polling the nodes' state: there is no event to wait on

    def _healthy(self) -> bool:
        for node in self.running():
            with redis.Redis(port=node.port, socket_timeout=2) as client:
                info = client.execute_command("CLUSTER", "INFO")
                text = info.decode() if isinstance(info, bytes) else str(info)
                if "cluster_state:ok" not in text or "cluster_slots_ok:16384" not in text:
                    return False
                if not replica_in_sync(client):
                    return False
        return True

    def running(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def master_of(self, key: str) -> RedisServer:
        """The node serving ``key``'s slot now."""
        with redis.Redis(port=self.running()[0].port) as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    port = int(master[1])
                    return next(n for n in self.nodes if n.port == port)
        raise RuntimeError(f"no master serves the slot of {key!r}")

    def masters(self) -> list[RedisServer]:
        return [n for n in self.running() if self._role(n)[0] in (b"master", "master")]

    def replica_of(self, master: RedisServer) -> RedisServer:
        """The running node replicating ``master``."""
        return next(n for n in self.running() if self._role(n)[0] in (b"slave", "slave")
                    and int(self._role(n)[2]) == master.port)  # fmt: skip

    @staticmethod
    def _role(node: RedisServer) -> list[Any]:
        with redis.Redis(port=node.port) as client:
            return list(client.execute_command("ROLE"))

    def move_slot(self, key: str, *, keys_per_step: int = 100, step_pause_s: float = 0.0) -> RedisServer:
        """Move ``key``'s slot and its keys to another master, as a resharding does; returns the new owner.

        With a small ``keys_per_step`` and a pause between steps the slot stays half-moved for a while, as
        in a real resharding under load: the source answers ASK for keys it no longer has, and a command
        whose keys are split between the two nodes gets TRYAGAIN until the last key has moved."""
        source = self.master_of(key)
        target = next(m for m in self.masters() if m.port != source.port)
        with redis.Redis(port=source.port) as src, redis.Redis(port=target.port) as dst:
            slot = int(src.execute_command("CLUSTER", "KEYSLOT", key))
            source_id, target_id = src.execute_command("CLUSTER", "MYID"), dst.execute_command("CLUSTER", "MYID")
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            try:
                while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, keys_per_step):
                    src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
                    time.sleep(step_pause_s)  # pacing the resharding, as redis-cli --cluster reshard does
            finally:
                for master in self.masters():
                    with redis.Redis(port=master.port) as client:
                        client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return target

    def is_down(self) -> bool:
        """True once a running node reports ``cluster_state:fail`` (a slot without any node)."""
        with redis.Redis(port=self.running()[0].port) as client:
            info = client.execute_command("CLUSTER", "INFO")
        return "cluster_state:fail" in (info.decode() if isinstance(info, bytes) else str(info))

    def flushall(self) -> None:
        for node in self.running():
            with redis.Redis(port=node.port) as client:
                if client.execute_command("ROLE")[0] in (b"master", "master"):
                    client.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class RedisSentinels:
    """A master, one replica and three sentinels watching it as ``mymaster`` (quorum 2)."""

    service = "mymaster"

    def __init__(self) -> None:
        self._build()

    def _build(self) -> None:
        # The master's port is fixed: the replica and the sentinels are told it before it starts.
        self.master = RedisServer(quiet_port(), FAST_REPLICATION)
        self.replica = RedisServer(extra_args=("--replicaof", "127.0.0.1", str(self.master.port), *FAST_REPLICATION))
        self.sentinels = [SentinelServer(self._sentinel_conf()) for _ in range(3)]

    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica, *self.sentinels]

    def _sentinel_conf(self) -> Path:
        conf = Path(tempfile.mkdtemp(prefix="taskora-sentinel-")) / "sentinel.conf"
        conf.write_text(f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 2\n"
                        f"sentinel down-after-milliseconds {self.service} {NODE_TIMEOUT_MS}\n"
                        f"sentinel failover-timeout {self.service} 10000\n")  # fmt: skip
        return conf

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/0"

    def start(self) -> RedisSentinels:
        for _attempt in range(SET_ATTEMPTS):
            if start_all(self.servers()):
                self.wait_watched()
                return self
            self._build()  # a port was taken: the set is built again on fresh ports
        raise RuntimeError(f"the test sentinel set did not start in {SET_ATTEMPTS} sets of fresh ports")

    def client(self, port: int, **options: Any) -> redis.Redis:
        """A client of one of the set's servers (the TLS set's override speaks TLS)."""
        return redis.Redis(port=port, **options)

    def master_port(self) -> int:
        with self.client(self.sentinels[0].port, decode_responses=True) as client:
            return int(client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)[1])

    def wait_watched(self, timeout: float = 30.0) -> None:
        """Until every sentinel sees the replica (so a failover can promote it)."""
        deadline = time.monotonic() + timeout
        while not (all(self._sees_replica(s) for s in self.sentinels) and self._replica_synced()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sentinels did not see the replica within {timeout}s")
            time.sleep(0.05)  # polling the sentinels' view: there is no event to wait on

    def _replica_synced(self) -> bool:
        with self.client(self.replica.port) as client:
            return replica_in_sync(client)

    def _sees_replica(self, sentinel: RedisServer) -> bool:
        with self.client(sentinel.port, decode_responses=True) as client:
            replicas = client.execute_command("SENTINEL", "REPLICAS", self.service)
            others = client.execute_command("SENTINEL", "SENTINELS", self.service)
            return bool(replicas) and len(others) >= 2

    def stop(self) -> None:
        for server in reversed(self.servers()):
            server.stop()


class SentinelServer(RedisServer):
    """``redis-server <conf> --sentinel``: the config file (which Sentinel rewrites) must come first."""

    def __init__(self, conf: Path) -> None:
        super().__init__()
        self.conf = conf

    def start(self) -> SentinelServer:
        self.process = subprocess.Popen(
            [self.binary, str(self.conf), "--sentinel", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not self._wait_ready():
            raise RuntimeError(f"redis-server --sentinel did not answer on port {self.port}")
        return self


class Certificates:
    """A throw-away certificate authority and a server certificate for 127.0.0.1 it signed (``openssl``)."""

    def __init__(self, directory: Path) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("openssl is not installed (apt-get install -y openssl)")
        self.ca, self.cert, self.key = directory / "ca.crt", directory / "server.crt", directory / "server.key"
        ca_key, request, extensions = directory / "ca.key", directory / "server.csr", directory / "san.ext"
        # The extensions a real CA and server certificate carry: Python 3.13 verifies strictly (VERIFY_X509_STRICT)
        # and refuses a CA without keyUsage.
        extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                              "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n"
                              "authorityKeyIdentifier=keyid,issuer\n")
        for command in (
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", self.ca, "-days", "2",
             "-subj", "/CN=taskora test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", request, "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", request, "-CA", self.ca, "-CAkey", ca_key, "-CAcreateserial", "-out", self.cert,
             "-days", "2", "-extfile", extensions],
        ):  # fmt: skip
            subprocess.run([openssl, *map(str, command)], check=True, capture_output=True, timeout=60)

    def server_args(self) -> tuple[str, ...]:
        return ("--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key), "--tls-ca-cert-file",
                str(self.ca), "--tls-auth-clients", "no")  # fmt: skip


class TLSRedisCluster(RedisCluster):
    """The same cluster speaking TLS: to clients on each node's ``tls_port``, between nodes (``tls-cluster``) and
    to replicas (``tls-replication``). Each node keeps a plain port for this harness's own checks only; Redis
    answers CLUSTER SLOTS with the ports of the asking connection's kind, so a TLS client sees TLS ports only."""

    def __init__(self, masters: int = 3) -> None:
        self.certs = Certificates(Path(tempfile.mkdtemp(prefix="taskora-tls-")))
        self.tls_ports: dict[int, int] = {}  # plain port -> TLS port, per node
        super().__init__(masters)

    def _new_nodes(self) -> list[RedisServer]:
        self.tls_ports.clear()
        return super()._new_nodes()

    def _node(self) -> RedisServer:  # type: ignore[override]
        # With tls-cluster the bus port is the TLS port + 10000; the plain port is any other free one.
        taken = {p for plain, tls in self.tls_ports.items() for p in (plain, tls, tls + 10000)}
        tls_port = quiet_port(with_bus=True)
        while tls_port in taken or tls_port + 10000 in taken:
            tls_port = quiet_port(with_bus=True)
        port = quiet_port()
        while port in taken or port in (tls_port, tls_port + 10000):
            port = quiet_port()
        self.tls_ports[port] = tls_port
        conf = Path(tempfile.mkdtemp(prefix="taskora-cluster-")) / "nodes.conf"
        return RedisServer(port, ("--cluster-enabled", "yes", "--cluster-config-file", str(conf),
                                  "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--tls-port", str(tls_port),
                                  "--tls-cluster", "yes", "--tls-replication", "yes", *self.certs.server_args(),
                                  *FAST_REPLICATION))  # fmt: skip

    @property
    def url(self) -> str:
        """``rediss+cluster://`` with the nodes' TLS ports and the test CA to verify them with."""
        seeds = ",".join(f"127.0.0.1:{self.tls_ports[n.port]}" for n in self.nodes[:3])
        return f"rediss+cluster://{seeds}/?ssl_ca_certs={self.certs.ca}"

    def replica_of(self, master: RedisServer) -> RedisServer:
        """A replica's ROLE names the TLS port it replicates from (``tls-replication``)."""
        return next(n for n in self.running() if self._role(n)[0] in (b"slave", "slave")
                    and int(self._role(n)[2]) == self.tls_ports[master.port])  # fmt: skip
