"""``make_pool``: the pool strategy a worker's settings name.

Apart from ``pools.py`` because the ``prefork`` pool (``supervisor.py``, ``prefork_child.py``) builds on the
thread pool and settings defined there: choosing among all of them from ``pools.py`` was an import cycle.
"""

from __future__ import annotations

from .pools import POOL_NAMES, AsyncioPool, Pool, SoloPool, ThreadPool, WorkerSettings
from .shared_wait import shared_from_slots
from .supervisor import Supervisor


def make_pool(settings: WorkerSettings) -> Pool:
    """The pool strategy named by ``settings.pool``. Settings read from the environment are checked here, before
    any process starts: a prefork child refusing one would die, and be started again, as long as the pool runs."""
    shared_from_slots()
    if settings.pool == "prefork":
        return Supervisor(settings)
    classes: dict[str, type[ThreadPool]] = {"threads": ThreadPool, "solo": SoloPool, "asyncio": AsyncioPool}
    if settings.pool not in classes:
        raise ValueError(f"unknown pool {settings.pool!r}; choose one of {', '.join(POOL_NAMES)}")
    return classes[settings.pool](settings)
