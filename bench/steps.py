"""The node of the ``workflows`` scenario, shared by every library's app.

A chain passes each node's result to the next, so a node returns the next job number; a chord's body
gets the list of its header's results, which is not a payload, and stamps as job -1. Each node
stamps as it starts (bench/stamps.py), so the scenario counts nodes that ran, whatever the library.

This module must import nothing from any task library: every library's worker imports it.
"""

from __future__ import annotations

import time

from .stamps import stamp


def run_step(data: object) -> dict:
    """Stamp this node and return the payload of the next one in a chain."""
    started_at = time.time()
    stamp(data, started_at)
    i = int(data.get("i", -1)) if isinstance(data, dict) else -1
    return {"i": i + 1}
