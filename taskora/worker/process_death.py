"""How a worker process dies by a signal on purpose (a terminated job's prefork child, as Celery's does).

Kept apart from pools.py so that the main-thread runner (main_thread.py), which pools reach through the
executor, can make its process die without importing the pools back.
"""

from __future__ import annotations

import os
import signal


def die_by(signum: int) -> None:
    """Deliver ``signum`` to this process with its default action (main thread only); SIGKILL if it survives."""
    if signum not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
    os.kill(os.getpid(), signum)
    os.kill(os.getpid(), signal.SIGKILL)  # a signal whose default action is to ignore it
