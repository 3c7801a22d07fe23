"""Releasing what a failed task's frames hold, once its failure is handled (Celery's fix for its issue #8882).

A handled exception keeps its traceback, and the traceback keeps every frame of the task body with its
local variables: a log record kept by a handler (pytest's ``caplog``, a buffering handler) or an
``einfo`` kept by a hook then holds every large object the task touched, failure after failure. Celery
clears those frames once the outcome is logged and stored; so does this. The traceback's text stays
readable (file names and line numbers live on the traceback, not in the cleared locals).
"""

from __future__ import annotations

__all__ = ["clear_frames"]


def clear_frames(exc: BaseException) -> None:
    """Drop the local variables of every finished frame in ``exc``'s traceback (running ones are skipped)."""
    tb = exc.__traceback__
    while tb is not None:
        try:
            tb.tb_frame.clear()
        except RuntimeError:  # the frame is still running (the trace function that caught the exception)
            pass
        tb = tb.tb_next
