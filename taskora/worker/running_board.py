"""The jobs a prefork child is running right now, on a page of memory its supervisor can read after it died.

A child reports its held jobs over a pipe at most every few milliseconds (supervisor.py), so a handler
that kills its process at once (``os.abort``, a segfault) can die before any report says it started.
The board closes that gap without a message per job: the slot thread writes it before the handler runs,
into an anonymous shared mapping inherited through ``fork``, and nothing reads it until the child is dead.
Two halves are written alternately and a header names the complete one, so a write cut short by the
child's death still leaves the previous complete board readable.

The board also names the jobs a child completed whose completion is still on its way to Redis (a batch
sends completions with its next request, batches.py), with their results: the supervisor of a child that
died records those completions itself, so a finished job never runs again. Running jobs and completions
are two parts of the board, each with its own halves: a completion waits only once ``CompletionRoom`` found
it room in its part, so every waiting completion is on the board, and a full one never hides a running job.
"""

from __future__ import annotations

import json
import mmap
import struct
import threading
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

#: Bytes per half of each of the board's two parts (running jobs, completions); read when a board is made, so a
#: test can shrink it. The running part holds hundreds of running jobs (a child runs one job per task).
HALF_SIZE = 64 * 1024
_HEADER = struct.Struct("<II")  # which half is complete (0/1), its length

#: ``{job id: (task, lock token, keep, serialized result)}``: completed here, not yet recorded in Redis.
Finished = dict[str, tuple[str, str, bool, "str | bytes"]]


class _Part:
    """One JSON object on the board, in two halves written alternately behind a header naming the complete one.

    ``entries`` (job id: that entry's JSON) is what the part should say; ``publish`` writes it."""

    def __init__(self, board: mmap.mmap, offset: int, half_size: int) -> None:
        self._map, self._offset, self._half_size = board, offset, half_size
        self._half = 0
        self.entries: dict[str, str] = {}

    @staticmethod
    def size(half_size: int) -> int:
        return _HEADER.size + 2 * half_size

    def publish(self) -> bool:
        """Write ``entries`` into the half not named complete, then name it; False (the last complete contents
        stay) when they do not fit."""
        body = ("{" + ",".join(self.entries.values()) + "}").encode()
        if len(body) > self._half_size:
            return False
        self._half ^= 1
        start = self._offset + _HEADER.size + self._half * self._half_size
        self._map[start:start + len(body)] = body
        _HEADER.pack_into(self._map, self._offset, self._half, len(body))
        return True

    def read(self) -> dict[str, Any]:
        half, length = _HEADER.unpack_from(self._map, self._offset)
        if length == 0 or half > 1 or length > self._half_size:
            return {}
        start = self._offset + _HEADER.size + half * self._half_size
        try:
            raw: dict[str, Any] = json.loads(self._map[start:start + length])
        except ValueError:
            return {}
        return raw


class RunningBoard:
    """Written only by one child (under its own lock), read only by the supervisor once that child died.

    Running jobs and completions are two separate parts, so neither can crowd out the other: the completions'
    part holds exactly what the child's batches reserved room for (``CompletionRoom``), and always fits.

    A busy child writes one part per step of a job (``started``: the running part; ``deferred``: the completions'
    part), not both: a completion that waits leaves its job on the running part until the next write of that part,
    and a job named in both parts is a completed one (``read``). The running part is rewritten before a completion
    leaves the completions' part, so a completed job is never named in neither before it is recorded."""

    def __init__(self) -> None:
        self.half_size = HALF_SIZE
        part = _Part.size(self.half_size)
        self._map = mmap.mmap(-1, 2 * part)  # MAP_SHARED | MAP_ANONYMOUS
        self._running, self._finished = _Part(self._map, 0, self.half_size), _Part(self._map, part, self.half_size)
        #: The running part still names a job that completed since it was last written.
        self._running_stale = False

    def started(self, job_id: str, entry: tuple[str, str, int]) -> bool:
        """``job_id`` (task, lock token, attempt) runs now; False when the running part is full (pipe reports
        remain)."""
        self._running.entries[job_id] = _running_fragment(job_id, entry)
        return self._publish_running()

    def ended(self, job_id: str) -> None:
        """``job_id`` stopped running here, its outcome recorded (or it was handed back)."""
        if self._running.entries.pop(job_id, None) is not None:
            self._publish_running()

    def deferred(self, job_id: str, entry: tuple[str, str, bool, str | bytes]) -> bool:
        """``job_id`` completed (task, lock token, keep, serialized result), its completion not recorded yet; False
        when it does not fit (``CompletionRoom`` keeps that from happening)."""
        self._finished.entries[job_id] = _finished_fragment(job_id, entry)
        if not self._finished.publish():
            del self._finished.entries[job_id]  # it stays on the running part: a death runs it again
            return False
        if self._running.entries.pop(job_id, None) is not None:
            self._running_stale = True  # dropped from the running part by its next write
        return True

    def recorded(self, job_ids: list[str]) -> None:
        """These completions were recorded in Redis: no longer the supervisor's to record."""
        if self._running_stale:
            self._publish_running()
        dropped = [self._finished.entries.pop(job_id, None) for job_id in job_ids]
        if any(fragment is not None for fragment in dropped):
            self._finished.publish()

    def write(self, running: dict[str, tuple[str, str, int]], finished: Finished | None = None) -> bool:
        """Publish exactly these running jobs and these completions not recorded yet; False when a part does not
        fit (that part keeps its last complete contents)."""
        finished = finished or {}
        self._finished.entries = {job_id: _finished_fragment(job_id, entry) for job_id, entry in finished.items()}
        self._running.entries = {job_id: _running_fragment(job_id, entry) for job_id, entry in running.items()}
        finished_fits = self._finished.publish()
        return self._publish_running() and finished_fits

    def _publish_running(self) -> bool:
        fits = self._running.publish()
        self._running_stale = self._running_stale and not fits
        return fits

    def read(self) -> dict[str, tuple[str, str, int]]:
        """The running jobs of the last complete board (not a completed one the running part still names)."""
        running, finished = self._running.read(), self._finished.read()
        return {job_id: (str(task), str(token), int(attempt)) for job_id, (task, token, attempt) in running.items()
                if job_id not in finished}

    def read_finished(self) -> Finished:
        """The completed jobs of the last complete board whose completion had not been recorded."""
        return {job_id: (str(task), str(token), bool(keep), _value(kind, text))
                for job_id, (task, token, keep, kind, text) in self._finished.read().items()}

    def close(self) -> None:
        self._map.close()


class CompletionRoom:
    """The room left in a child's board for completions that wait (batches.py): a completion waits only once
    its entry is counted here, and is counted out only after the board dropped it, so the board's completions
    never exceed what a half holds. What finds no room is sent at once instead of waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.capacity = HALF_SIZE - 2  # a half holds ``{`` + the entries, each with a comma + ``}``
        self._taken: dict[str, int] = {}  # job id -> bytes of its entry on the board (with its separator)
        self._used = 0

    def take(self, job_id: str, entry: tuple[str, str, bool, str | bytes]) -> bool:
        """Count ``job_id``'s completion on the board if it fits beside the ones counted; False: it does not."""
        size = len(_finished_fragment(job_id, entry)) + 1
        with self._lock:
            used = self._used - self._taken.get(job_id, 0)
            if used + size > self.capacity:
                return False
            self._taken[job_id], self._used = size, used + size
            return True

    def give_back(self, job_ids: list[str]) -> None:
        """These completions were recorded, and dropped from the board: their room is free again."""
        with self._lock:
            for job_id in job_ids:
                self._used -= self._taken.pop(job_id, 0)


def _running_fragment(job_id: str, entry: tuple[str, str, int]) -> str:
    """A running job's entry as ``"id":[task,token,attempt]`` JSON (ASCII: non-ASCII characters escaped).

    Built from the C string quoter rather than ``json.dumps`` with separators (which makes an encoder per call):
    a busy child makes one per job."""
    task, token, attempt = entry
    return f"{_quote(job_id)}:[{_quote(task)},{_quote(token)},{int(attempt)}]"


def _finished_fragment(job_id: str, entry: tuple[str, str, bool, str | bytes]) -> str:
    """A completion's entry as ``"id":[task,token,keep,result kind,result text]`` JSON (ASCII)."""
    task, token, keep, result = entry
    kind, text = _text(result)
    return f'{_quote(job_id)}:[{_quote(task)},{_quote(token)},{1 if keep else 0},"{kind}",{_quote(text)}]'


def _text(result: str | bytes) -> tuple[str, str]:
    """A serialized result as JSON text: ("s", text) or ("b", bytes as latin-1, which maps every byte)."""
    return ("b", result.decode("latin-1")) if isinstance(result, bytes) else ("s", result)


def _value(kind: str, text: str) -> str | bytes:
    return text.encode("latin-1") if kind == "b" else text
