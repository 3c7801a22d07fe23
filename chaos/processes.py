"""The processes the harness runs and kills: its own redis-server (with an AOF) and the worker fleet."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free loopback port (the server keeps it across restarts, so clients reconnect to one address)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisProcess:
    """A redis-server whose AOF (``appendfsync always``) lets every acknowledged write survive a restart."""

    def __init__(self, workdir: Path, fsync: str = "always") -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary, self.port, self.fsync = binary, free_port(), fsync
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", self.fsync, "--dir", str(self.dir), "--loglevel", "warning",
             "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        """Poll until PING answers PONG (a server loading its AOF answers -LOADING meanwhile)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.dir}/redis.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.01)  # a socket's readiness: no event to await
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def restart(self) -> None:
        """SIGTERM (the server flushes its AOF and exits), then start again on the same port and files."""
        self.stop(signal.SIGTERM)
        self.start()

    def stop(self, signum: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)
            self.proc.wait(30)
        self.proc = None


def children(pid: int) -> list[int]:
    """The pids of a process's children (a prefork supervisor's pool), from /proc. Linux lists a child under
    the thread that forked it, and the supervisor replaces dead children from a thread of its own: every
    thread's list is read, not only the main thread's."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(p) for p in listing.read_text().split())
        except (OSError, ValueError):  # the thread ended meanwhile
            continue
    return found


@dataclass
class Worker:
    """One ``taskora worker -A chaos.proj`` subprocess, in its own session so its children die with it."""

    proc: subprocess.Popen[bytes]
    pool: str
    name: str
    stopping: bool = False  # sent SIGTERM: already replaced, left to finish its jobs and exit

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Fleet:
    """Keeps ``size`` workers up; a worker is replaced as soon as it dies or is told to stop."""

    url: str
    workdir: Path
    size: int
    threads: int
    pools: tuple[str, ...]
    workers: list[Worker] = field(default_factory=list)
    started: int = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ, CHAOS_REDIS_URL=self.url, CHAOS_RUN_DIR=str(self.workdir), PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        return env

    def spawn(self, pool: str) -> Worker:
        """Start one worker; threads workers skip the poison queue (a poison job would kill them whole)."""
        self.started += 1
        name = f"chaos{self.started}-{pool}@%h"
        queues = ["-Q", "default"] if pool == "threads" else []
        log = open(self.workdir / f"worker-{self.started}-{pool}.log", "wb")  # noqa: SIM115 - the child owns it
        cmd = [
            sys.executable,
            "-m",
            "taskora",
            "worker",
            "-A",
            "chaos.proj",
            "-P",
            pool,
            "-c",
            str(self.threads),
            "-n",
            name,
            "-l",
            "warning",
            *queues,
        ]
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        worker = Worker(proc, pool, name)
        self.workers.append(worker)
        return worker

    def fill(self) -> int:
        """Replace dead or stopping workers so ``size`` serving ones are up; returns how many were started."""
        self.workers = [w for w in self.workers if w.alive]
        started = 0
        while len(self.serving()) < self.size:
            self.spawn(self._next_pool())
            started += 1
        return started

    def _next_pool(self) -> str:
        """A pool no serving worker has (the poison queue needs a prefork worker), else the next in turn."""
        missing = [p for p in self.pools if not self.serving(p)]
        return missing[0] if missing else self.pools[self.started % len(self.pools)]

    def serving(self, pool: str | None = None) -> list[Worker]:
        return [w for w in self.workers if w.alive and not w.stopping and (pool is None or w.pool == pool)]

    def stop_all(self) -> None:
        """SIGKILL every worker's session (the supervisor and its children)."""
        for w in self.workers:
            if w.alive:
                try:
                    os.killpg(w.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            w.proc.wait(10)
