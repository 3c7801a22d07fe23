"""A serving worker's start-up objects, kept out of the cyclic garbage collector's way.

Start-up leaves a worker process with tens of thousands of objects that live until it exits: imported
modules, the app and its tasks, the pool's threads and their state. CPython's collection of its oldest
generation walks every one of them while no thread runs: 11-13 ms per collection on the benchmark's worker
(about 48,000 objects), every few seconds under load, long enough that each one showed as a burst of the
slowest pickups of a loaded worker (bench/README.md, "Pauses for the garbage collector").
``gc.freeze()`` moves the objects alive at that moment to a permanent generation that no collection walks;
what the worker allocates afterwards, jobs included, is collected as before.
"""

from __future__ import annotations

import gc


def freeze_start_up() -> None:
    """Collect the garbage start-up left once, then take every object still alive out of later collections.
    Called as a worker process's pool starts (pools.ThreadPool, after the ``worker:process-init`` handlers ran),
    only where the worker is what the process is for (``WorkerSettings.owns_process``): objects made by start-up
    and kept are never garbage, so walking them again is pure pause. In a host that embeds a worker, objects the
    host drops later would be. Not in the prefork pool: a child inherits its supervisor's pipes and sockets,
    which the collector must stay free to close (frozen there, prefork tests failed in CI; not traced)."""
    gc.collect()
    gc.freeze()
