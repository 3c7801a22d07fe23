"""``Unsupported``: a scenario a library cannot do, shown as a note in its cell rather than an error.

A driver raises it (no bulk enqueue, no thread pool, no result to wait for); the scenario child
reports it as ``{"unsupported": reason}`` and the table prints the reason instead of a number.
"""

from .config import HYBRID_PROCESSES


class Unsupported(Exception):
    """The library has no way to do what this scenario measures; the message says what is missing."""


#: Why a library skips the ``hybrid`` pool.
NO_HYBRID = "no processes with several slots each"


def hybrid_slots(concurrency: int) -> tuple[int, int]:
    """The ``hybrid`` pool (bench/config.py) as (processes, slots in each): ``concurrency`` shared evenly."""
    return HYBRID_PROCESSES, max(1, concurrency // HYBRID_PROCESSES)
