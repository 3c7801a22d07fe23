"""Waiting for a reply without sleeping: an opt-in trade of CPU for latency (``TASKORA_SPIN_US``).

A thread that sleeps in ``recv`` until Redis answers is woken by the kernel when the reply lands. On a virtual
machine that wake-up is slow when the thread's vCPU went idle meanwhile: on the 2-vCPU guest of bench/, a
``PING`` round trip took 72 µs with the client asleep in ``recv`` and 24 µs with the client polling the socket
(bench/README.md, Profiles, "Waiting for a reply without sleeping"). With ``TASKORA_SPIN_US=N`` a direct
connection (direct.py) polls its socket for up to N µs after a command that does not block, then sleeps on it as
before. What it costs: up to N µs of CPU per call when the reply is slower than that, and a busy CPU while it
polls. So it is off by default, and never used where it cannot help: for commands that block by design (a
marker wait, a blocking stream read), nor on TLS connections (an SSL socket cannot be polled so).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from time import perf_counter
from typing import Any

from ..errors import ConfigurationError

#: The setting: how long, in microseconds, a connection polls for a reply before it sleeps on the socket.
SPIN_VARIABLE = "TASKORA_SPIN_US"
#: The most it may be: past a few milliseconds a reply is late, and polling would only burn a CPU.
MOST_SPIN_US = 10_000
#: 0 where the platform has no non-blocking read flag (polling needs it).
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
#: Commands that may wait on the server's side by design: polling for their reply would burn the whole budget.
BLOCKING_COMMANDS = frozenset({"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZPOPMIN", "BZPOPMAX",
                               "BZMPOP", "WAIT", "WAITAOF", "XREAD", "XREADGROUP"})


def spin_budget_s() -> float:
    """``$TASKORA_SPIN_US`` in seconds (0: off, the default), or ConfigurationError naming what is wrong."""
    text = os.environ.get(SPIN_VARIABLE, "").strip()
    if not text or not _DONTWAIT:
        return 0.0
    if not text.isdigit() or int(text) > MOST_SPIN_US:
        raise ConfigurationError(f"{SPIN_VARIABLE} must be a whole number of microseconds from 0 (off) to "
                                 f"{MOST_SPIN_US}, got {text!r}")
    return int(text) / 1e6


def may_block(command: tuple[Any, ...]) -> bool:
    """Whether Redis may hold ``command``'s reply back on purpose (XREAD only with BLOCK)."""
    name = command[0].upper() if isinstance(command[0], str) else command[0].decode().upper()
    if name in ("XREAD", "XREADGROUP"):
        return any(isinstance(part, str) and part.upper() == "BLOCK" for part in command)
    return name in BLOCKING_COMMANDS


#: False once this process is a worker's (``stop_spinning_in_this_process``).
_spinning_allowed = True


def stop_spinning_in_this_process() -> None:
    """No connection of this process spins from now on: a worker's calls read replies it sent ahead while a job
    ran, and its threads would only take CPU and the GIL from each other (bench/README.md measured it)."""
    global _spinning_allowed
    _spinning_allowed = False


class ReplySpin:
    """One connection's spinning: ``budget_s`` per read, paused while it keeps coming back empty.

    A reply that needs longer than the budget every time (Redis across a network, or on this very CPU, where it
    cannot run while we poll) makes each poll pure waste; after ``MISSES_TO_PAUSE`` empty polls in a row the
    next ``PAUSE_READS`` reads sleep at once, then spinning is tried again."""

    MISSES_TO_PAUSE = 8
    PAUSE_READS = 1024

    __slots__ = ("budget_s", "_misses", "_paused")

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self._misses = 0
        self._paused = 0

    def wanted(self, commands: Iterable[tuple[Any, ...]]) -> bool:
        """Whether the replies to ``commands`` are to be spun for: spinning on, and none of them blocks."""
        return self.budget_s > 0 and _spinning_allowed and not any(may_block(c) for c in commands)

    def receive(self, sock: socket.socket, buffer: bytearray) -> int | None:
        """Bytes read into ``buffer`` by spinning (0: the peer closed), or None: read by sleeping instead."""
        if self._paused:
            self._paused -= 1
            return None
        n = receive_polling(sock, buffer, self.budget_s)
        self._misses = 0 if n is not None else self._misses + 1
        if self._misses == self.MISSES_TO_PAUSE:
            self._misses, self._paused = 0, self.PAUSE_READS
        return n


def receive_polling(sock: socket.socket, buffer: bytearray, budget_s: float) -> int | None:
    """The bytes read into ``buffer`` by polling ``sock`` without sleeping for up to ``budget_s``; None when
    nothing came in that time (the caller then sleeps on the socket). 0 is the peer closing, as ``recv``."""
    deadline = perf_counter() + budget_s
    while True:
        try:
            return sock.recv_into(buffer, 0, _DONTWAIT)
        except BlockingIOError:
            if perf_counter() >= deadline:
                return None
