"""Releasing what a failed task's frames hold, once its failure is handled (Celery's fix for its issue #8882).

A handled exception keeps its traceback, and the traceback keeps every frame of the task body with its
local variables: a log record kept by a handler (pytest's ``caplog``, a buffering handler) or an
``einfo`` kept by a hook then holds every large object the task touched, failure after failure. Celery
clears those frames once the outcome is logged and stored; so does this. The traceback's text stays
readable (file names and line numbers live on the traceback, not in the cleared locals).
"""

from __future__ import annotations

from types import FrameType

__all__ = ["clear_frames"]


def clear_frames(exc: BaseException, callers: int = 0) -> None:
    """Drop the local variables of the finished frames of ``exc``'s traceback (running ones are skipped),
    and of ``callers`` callers of its first frame.

    A frame keeps its caller alive: once the function that traced the task has returned (the eager
    ``apply`` raising the failure), ``callers=1`` lets its request and outcome go too.
    """
    tb = exc.__traceback__
    if tb is not None:
        caller = tb.tb_frame.f_back
        for _ in range(callers):
            if caller is None:
                break
            _clear(caller)
            caller = caller.f_back
    while tb is not None:
        _clear(tb.tb_frame)
        tb = tb.tb_next


def _clear(frame: FrameType) -> None:
    try:
        frame.clear()
    except RuntimeError:  # still running (the trace that caught the exception, the worker's loop)
        pass
