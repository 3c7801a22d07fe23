"""``--autoscale MAX,MIN``: resize the pool between MIN and MAX by the backlog, as Celery's autoscaler does.

Every ``interval_s`` the autoscaler takes the demand of each task this worker runs (its jobs running here plus
its jobs waiting in Redis) and sizes the pool for the busiest: it grows at once while jobs wait and every slot
is busy (never past MAX), and it shrinks toward the demand (never below MIN) only once the pool has not been
fully needed for ``keepalive_s`` (Celery's ``AUTOSCALE_KEEPALIVE``, 30 s), so a bursty queue does not make
the pool flap. Shrinking is warm: a slot or child leaves after its running job (resize.py, supervisor.py).
``update`` (Celery's ``autoscale`` control command) changes MAX and MIN of a running worker; the pool is brought
inside the new bounds at once, as Celery's autoscaler does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from .threads import Periodic

if TYPE_CHECKING:
    from ..app import Taskora
    from .pools import Pool

log = logging.getLogger("taskora.worker.autoscale")

#: Celery's default keepalive (seconds a pool stays larger than needed before shrinking).
DEFAULT_KEEPALIVE_S = 30.0


class Autoscaler:
    """Keeps ``pool`` between ``min_size`` and ``max_size`` slots by the demand of ``task_names``."""

    def __init__(self, app: Taskora, pool: Pool, task_names: list[str], *, max_size: int, min_size: int,
                 keepalive_s: float = DEFAULT_KEEPALIVE_S, interval_s: float = 1.0) -> None:  # fmt: skip
        _check_bounds(max_size, min_size, "--autoscale")
        if keepalive_s < 0:
            raise ConfigurationError(f"--autoscale-keepalive must be >= 0 seconds, got {keepalive_s}")
        self.app = app
        self.pool = pool
        self.task_names = task_names
        self.max_size, self.min_size = max_size, min_size
        self.keepalive_s = keepalive_s
        self._last_needed = time.monotonic()
        #: Held while the pool is resized: by the autoscaler's step and by ``update`` (the control thread).
        self._resizing = threading.Lock()
        self._periodic = Periodic("taskora-autoscale", self._step, interval_s,
                                  what="autoscale: reading the backlog")  # until it can, the size is kept

    def start(self) -> None:
        self._periodic.start()

    def stop(self) -> None:
        self._periodic.stop()

    def _step(self) -> None:
        demand = self.demand()
        with self._resizing:
            self.scale_once(demand, time.monotonic())

    def update(self, max_size: int | None = None, min_size: int | None = None) -> tuple[int, int]:
        """Celery's ``autoscale`` command: new MAX and/or MIN (None keeps it); the pool shrinks to MAX or grows to
        MIN at once. Returns the bounds now. Raises ConfigurationError (nothing changed) unless 1 <= MIN <= MAX."""
        with self._resizing:
            new_max = self.max_size if max_size is None else max_size
            new_min = self.min_size if min_size is None else min_size
            _check_bounds(new_max, new_min, "new bounds")
            self.max_size, self.min_size = new_max, new_min
            size = self.pool.size()
            if size > new_max:
                self.pool.shrink(size - new_max)
            elif size < new_min:
                self.pool.grow(new_min - size)
            log.info("autoscale: now max=%d min=%d (pool %d -> %d)", new_max, new_min, size, self.pool.size())
            return new_max, new_min

    def demand(self) -> int:
        """Slots the busiest task could use now: its jobs running here plus those waiting."""
        running = Counter(job["task"] for job in self.pool.active())
        return max((running[name] + self.app.adapter.counts(name)["waiting"] for name in self.task_names), default=0)

    def scale_once(self, demand: int, now: float) -> None:
        size = self.pool.size()
        wanted = max(self.min_size, min(demand, self.max_size))
        if demand >= size:
            self._last_needed = now
        if wanted > size:
            log.info("autoscale: %d job(s) to run, growing the pool %d -> %d", demand, size, wanted)
            self.pool.grow(wanted - size)
        elif wanted < size and now - self._last_needed > self.keepalive_s:
            log.info("autoscale: idle for %.0fs, shrinking the pool %d -> %d", now - self._last_needed, size, wanted)
            self.pool.shrink(size - wanted)
            self._last_needed = now

    def info(self) -> dict[str, Any]:
        """Celery's ``stats()['autoscaler']`` shape."""
        return {"max": self.max_size, "min": self.min_size, "qty": self.pool.size()}


def _check_bounds(max_size: int, min_size: int, what: str) -> None:
    if not 1 <= min_size <= max_size:
        raise ConfigurationError(f"{what}: need 1 <= MIN <= MAX, got MIN={min_size} MAX={max_size}")
