"""Tracebacks formatted the way a failed run keeps them: cheaply, because it happens on every failure and retry.

A worker formats the traceback of every failed or retried run (the job's ``errorDetail``, a Celery task's
``einfo``). Since Python 3.11, ``traceback.format_exception`` underlines each line's failing expression,
which parses the source line of every frame with ``ast`` and checks every source file's modification time:
on a task that fails and retries at once, that was over a third of the worker's time per run.

The text here is what Python 3.10 prints: the same frames, source lines, chained exceptions and notes,
without the underlining. Source lines come from ``linecache`` as first read: a file edited while the worker
runs shows its old line, which is also the code the worker is still running.
"""

from __future__ import annotations

import builtins
import traceback

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def format_exception(error: BaseException) -> str:
    """``error`` with its traceback and the exceptions chained before it, oldest first, as one text."""
    if _is_group(error):  # nested tracebacks of an exception group: the standard library's layout
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
    parts: list[str] = []
    for exc, link in reversed(_chain(error)):
        parts.append(link)
        parts.extend(_frames(exc))
        parts.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(parts)


def _chain(error: BaseException) -> list[tuple[BaseException, str]]:
    """Each exception of the chain, newest first, with the text that links it to the one it followed."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    exc: BaseException | None = error
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        before, link = _before(exc)
        chain.append((exc, link if before is not None and id(before) not in seen else ""))
        exc = before
    return chain


def _before(exc: BaseException) -> tuple[BaseException | None, str]:
    """The exception ``exc`` was raised from or while handling, as Python prints chains."""
    if exc.__cause__ is not None:
        return exc.__cause__, _CAUSE
    if exc.__context__ is not None and not exc.__suppress_context__:
        return exc.__context__, _CONTEXT
    return None, ""


def _frames(exc: BaseException) -> list[str]:
    """The "Traceback" header and one entry per frame; positions are left out, so nothing is parsed.

    The summaries are built here rather than by ``StackSummary.extract``, which calls ``linecache.checkcache``
    for every file of the stack: an ``os.stat`` per file on every failure, about a third of formatting a
    short traceback, to notice files edited since they were read (which this module does not show)."""
    if exc.__traceback__ is None:
        return []
    entries = [traceback.FrameSummary(frame.f_code.co_filename, lineno, frame.f_code.co_name, lookup_line=False)
               for frame, lineno in traceback.walk_tb(exc.__traceback__)]
    return ["Traceback (most recent call last):\n", *traceback.StackSummary.from_list(entries).format()]


def _is_group(error: BaseException) -> bool:
    group = getattr(builtins, "BaseExceptionGroup", None)  # Python 3.11 and later
    return group is not None and isinstance(error, group)
