"""A throw-away ``redis-server`` for one benchmark session.

Every library is measured against the same server, started here on a free loopback port with
persistence off (``--save '' --appendonly no``) so that no fork for RDB/AOF lands in the middle of
a measurement. Everything else is Redis's default configuration (notably
``hash-max-listpack-value 64``), which is what most users run.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time

import redis

DEFAULT_BINARY = "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """Start with ``with RedisServer() as srv:``; ``srv.url`` is ``redis://127.0.0.1:<port>/0``."""

    def __init__(self, binary: str | None = None, start_timeout: float = 10.0):
        self.binary = binary or (DEFAULT_BINARY if shutil.which(DEFAULT_BINARY) else "redis-server")
        self.start_timeout = start_timeout
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip()

    def start(self) -> RedisServer:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        for _attempt in range(5):  # another process may grab the port between probe and bind
            self.port = _free_port()
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self._dir.name,
                 "--loglevel", "warning", "--daemonize", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            if self._wait_ready():
                return self
            self._kill()
        raise RuntimeError(f"could not start {self.binary} on a free loopback port")

    def _wait_ready(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + self.start_timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.ConnectionError:
                    time.sleep(0.05)
            return False
        finally:
            client.close()

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        self._kill()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
