"""A throwaway ``redis-server`` on a free loopback port, without persistence: the one launcher of the project.

The pytest plugin starts one when a test needs real Redis and no URL was given; our own test session,
the benchmark (``bench/``) and the Celery-suite harness (``conformance/``) start theirs with it too.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

from ..errors import ConfigurationError

#: Replies that mean the server is up: PONG, or a refusal that needs a password first.
_UP = (b"+PONG", b"-NOAUTH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Names another server binary for every server the tests start (e.g. a ``valkey-server``).
SERVER_VARIABLE = "TASKORA_TEST_REDIS_SERVER"


def redis_server_binary() -> str | None:
    """``$TASKORA_TEST_REDIS_SERVER`` (another Redis-compatible server, such as Valkey), else where
    ``redis-server`` is on PATH, or None."""
    return os.environ.get(SERVER_VARIABLE) or shutil.which("redis-server")


class LocalRedis:
    """One ``redis-server`` process owned by the caller: ``start()``/``stop()`` or ``with LocalRedis() as r``.

    ``extra_args`` are appended to the command line (``("--requirepass", "pw")``, AOF, ``maxmemory``...).
    Without a ``port`` a free one is taken, and taken again should another process grab it before the
    server binds; ``restart()`` keeps the port, so clients reconnect to the same address.
    """

    def __init__(self, port: int | None = None, extra_args: tuple[str, ...] = (), *,
                 binary: str | None = None) -> None:  # fmt: skip
        found = binary or redis_server_binary()
        if found is None:
            raise ConfigurationError("redis-server is not on PATH: install it (apt-get install -y redis-server), "
                                     "or give a Redis URL (--taskora-redis-url / TASKORA_TEST_REDIS_URL)")
        self.binary = found
        self._fixed_port = port is not None
        self.port = port or free_port()
        self.extra_args = tuple(extra_args)
        self.dir = tempfile.mkdtemp(prefix="taskora-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        """``redis-server --version``'s line (benchmark reports name the server they ran on)."""
        return subprocess.run([self.binary, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()

    def start(self, timeout: float = 10.0) -> LocalRedis:
        for _attempt in range(1 if self._fixed_port else 5):
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.dir, "--loglevel", "warning", *self.extra_args],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            if self._wait_ready(timeout):
                self._fixed_port = True  # the server's address from now on: restart() comes back on it
                return self
            if not self._fixed_port:
                self.port = free_port()  # another process took the port between the probe and the bind
        raise ConfigurationError(f"redis-server did not start on port {self.port}: exit code "
                                 f"{self.process.poll() if self.process else None}")

    def _wait_ready(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._answers():
                return True
            if self.process is not None and self.process.poll() is not None:
                return False
            time.sleep(0.01)  # polling a socket for readiness: there is no event to wait on
        self.stop()
        return False

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(_UP)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
