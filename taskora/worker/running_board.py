"""The jobs a prefork child is running right now, on a page of memory its supervisor can read after it died.

A child reports its held jobs over a pipe at most every few milliseconds (supervisor.py), so a handler
that kills its process at once (``os.abort``, a segfault) can die before any report says it started.
The board closes that gap without a message per job: the slot thread writes it before the handler runs,
into an anonymous shared mapping inherited through ``fork``, and nothing reads it until the child is dead.
Two halves are written alternately and a header names the complete one, so a write cut short by the
child's death still leaves the previous complete board readable.

The board also names the jobs a child completed whose completion is still on its way to Redis (a batch
sends completions with its next request, batches.py), with their results: the supervisor of a child that
died records those completions itself, so a finished job never runs again.
"""

from __future__ import annotations

import json
import mmap
import struct
from typing import Any

#: Bytes per half; a child runs one job per task, so this holds hundreds of running jobs.
HALF_SIZE = 64 * 1024
_HEADER = struct.Struct("<II")  # which half is complete (0/1), its length

#: ``{job id: (task, lock token, keep, serialized result)}``: completed here, not yet recorded in Redis.
Finished = dict[str, tuple[str, str, bool, "str | bytes"]]


class RunningBoard:
    """Written only by one child (under its own lock), read only by the supervisor once that child died."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, _HEADER.size + 2 * HALF_SIZE)  # MAP_SHARED | MAP_ANONYMOUS
        self._half = 0
        #: Each entry's JSON, made once: a busy child writes the board twice per job, with the same entries.
        self._fragments: dict[tuple[str, str, str], str] = {}  # (kind, job id, lock token): JSON

    def write(self, running: dict[str, tuple[str, str, int]], finished: Finished | None = None) -> bool:
        """Publish ``{job id: (task, lock token, attempt)}`` and the completions not recorded yet; False when it
        does not fit (the pipe reports remain; a death then re-runs a completion that did not fit)."""
        old, fragments = self._fragments, {}
        for kind, entries in (("r", running), ("f", finished or {})):
            for job_id, entry in entries.items():
                key = (kind, job_id, entry[1])
                fragments[key] = old.get(key) or _fragment(kind, job_id, entry)
        self._fragments = fragments
        body = ('{"r":{' + ",".join(f for (k, _, _), f in fragments.items() if k == "r") + '},"f":{'
                + ",".join(f for (k, _, _), f in fragments.items() if k == "f") + "}}").encode()
        if len(body) > HALF_SIZE:
            return False
        self._half ^= 1
        start = _HEADER.size + self._half * HALF_SIZE
        self._map[start:start + len(body)] = body
        self._map[:_HEADER.size] = _HEADER.pack(self._half, len(body))
        return True

    def read(self) -> dict[str, tuple[str, str, int]]:
        """The running jobs of the last complete board."""
        running = self._raw().get("r", {})
        return {job_id: (str(task), str(token), int(attempt)) for job_id, (task, token, attempt) in running.items()}

    def read_finished(self) -> Finished:
        """The completed jobs of the last complete board whose completion had not been recorded."""
        return {job_id: (str(task), str(token), bool(keep), _value(kind, text))
                for job_id, (task, token, keep, kind, text) in self._raw().get("f", {}).items()}

    def _raw(self) -> dict[str, Any]:
        half, length = _HEADER.unpack(self._map[:_HEADER.size])
        if length == 0 or half > 1 or length > HALF_SIZE:
            return {}
        start = _HEADER.size + half * HALF_SIZE
        try:
            raw: dict[str, Any] = json.loads(self._map[start:start + length])
        except ValueError:
            return {}
        return raw

    def close(self) -> None:
        self._map.close()


def _fragment(kind: str, job_id: str, entry: tuple[Any, ...]) -> str:
    """One entry as ``"id":[...]`` JSON: a running job's (task, token, attempt), or a finished one's
    (task, token, keep, result kind, result text)."""
    if kind == "f":
        task, token, keep, result = entry
        entry = (task, token, int(keep), *_text(result))
    return json.dumps(job_id) + ":" + json.dumps(entry, separators=(",", ":"))


def _text(result: str | bytes) -> tuple[str, str]:
    """A serialized result as JSON text: ("s", text) or ("b", bytes as latin-1, which maps every byte)."""
    return ("b", result.decode("latin-1")) if isinstance(result, bytes) else ("s", result)


def _value(kind: str, text: str) -> str | bytes:
    return text.encode("latin-1") if kind == "b" else text
