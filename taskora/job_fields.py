"""What a job id and a job's ``meta`` may be, checked where they are given (dispatch, a workflow step).

A leaf module (it imports only the errors): the task and the workflow graph both check them, and the graph
importing them from ``task.py`` made the import cycle task -> workflow -> task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigurationError

#: Names of the per-task keys next to the job hashes (``taskora:{task}:<name>``): a job with one of these ids
#: would write its hash over a queue's key.
RESERVED_JOB_IDS = frozenset({"wait", "prioritized", "active", "delayed", "completed", "failed", "expired",
                              "cancelled", "events", "stalled", "marker", "cancel", "singleton",
                              "newer", "ratelimit"})
#: A job's own side keys are ``<job key>:lock`` and ``<job key>:logs``; an id ending so would be another job's.
_RESERVED_ID_SUFFIXES = (":lock", ":logs")
#: Flow-control keys are ``<task prefix><kind>:<key>`` (adapters/flow.py): an id starting so could be one.
_RESERVED_ID_PREFIXES = ("debounce:", "throttle:", "throttleEnds:", "dedup:", "conc:", "collect:")


def check_job_id(value: Any, where: str) -> str | None:
    """``job_id`` as given to dispatch: None (a fresh uuid), or a non-empty string that is not a key name."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigurationError(f"{where}: job_id must be a string, got {type(value).__name__} ({value!r})")
    text = str(value)
    if not text.strip() or "{" in text or "}" in text or len(text) > 1024:
        raise ConfigurationError(f"{where}: job_id must be a non-empty string of at most 1024 characters "
                                 f"without braces, got {value!r}")
    if text in RESERVED_JOB_IDS or text.endswith(_RESERVED_ID_SUFFIXES) or text.startswith(_RESERVED_ID_PREFIXES):
        raise ConfigurationError(f"{where}: job_id {value!r} is reserved (it names one of the task's own keys)")
    if not text.isascii():
        check_utf8(text, f"{where}: job_id")
    return text


def check_meta(value: Any, where: str) -> dict[str, str]:
    """``meta`` as job-hash fields: a dict of names to values, stored as (UTF-8) strings."""
    if value is None:
        return {}
    if type(value) is not dict and not isinstance(value, Mapping):  # a plain dict skips the ABC's check
        raise ConfigurationError(f"{where}: meta must be a dict of name -> value, got {type(value).__name__} "
                                 f"({value!r})")
    fields = {str(k): str(v) for k, v in value.items()}
    if "" in fields:
        raise ConfigurationError(f"{where}: meta has an empty field name")
    if not ("".join(fields) + "".join(fields.values())).isascii():  # the usual case skips the per-field checks
        for name, text in fields.items():
            check_utf8(name, f"{where}: meta field name")
            check_utf8(text, f"{where}: meta[{name!r}]")
    return fields


def check_utf8(text: str, what: str) -> None:
    """Redis stores UTF-8: a lone surrogate (``"\\ud800"``) would fail inside the client with no name on it."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigurationError(f"{what}: {text!r} holds a lone surrogate, which has no UTF-8 form") from None
