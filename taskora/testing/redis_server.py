"""A throwaway ``redis-server`` for a test session, on a free loopback port, without persistence.

The pytest plugin starts one when a test needs real Redis and no URL was given, if the binary exists.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time

from ..errors import ConfigurationError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str | None:
    """Where ``redis-server`` is on PATH, or None."""
    return shutil.which("redis-server")


class LocalRedis:
    """One ``redis-server`` process owned by the caller: ``start()``, ``url``, ``stop()``."""

    def __init__(self) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise ConfigurationError("redis-server is not on PATH: install it, or give a Redis URL "
                                     "(--taskora-redis-url / TASKORA_TEST_REDIS_URL)")
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="taskora-pytest-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> LocalRedis:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers():
                return
            if self.process is not None and self.process.poll() is not None:
                raise ConfigurationError(f"redis-server exited with {self.process.returncode} on port {self.port}")
            time.sleep(0.01)  # polling a socket for readiness: there is no event to wait on
        raise ConfigurationError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None
