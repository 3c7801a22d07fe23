"""``app.control`` additions: ``broadcast`` (any remote-control command, built in or ``@control_command``) and
``revoke_by_stamped_headers`` (cancel the jobs carrying given stamps)."""

from __future__ import annotations

import json
from typing import Any

from . import _revoked_stamps

__all__ = ["ControlExtrasMixin", "InspectExtrasMixin"]

#: Job states a stamped-header revoke looks through (finished jobs are left alone, as in Celery).
_OPEN_STATES = ("waiting", "delayed", "active")


class ControlExtrasMixin:
    """Adds Celery's ``broadcast`` and ``revoke_by_stamped_headers`` to ``app.control``."""

    app: Any

    def broadcast(self, command: str, arguments: dict[str, Any] | None = None, destination: Any = None,
                  connection: Any = None, reply: bool = False, timeout: float = 1.0, limit: int | None = None,
                  callback: Any = None, channel: Any = None, pattern: Any = None, matcher: Any = None,
                  **extra_kwargs: Any) -> list[dict[str, Any]] | None:  # fmt: skip
        """Send ``command`` with ``arguments``; with ``reply=True``, ``[{hostname: reply}, ...]`` of those answering.

        Raises:
            ValueError: ``command`` is not a non-empty string, or ``arguments`` not a dict.
        """
        if not isinstance(command, str) or not command:
            raise ValueError(f"broadcast needs a command name, got {command!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise ValueError(f"broadcast arguments must be a dict, got {arguments!r}")
        targets = [destination] if isinstance(destination, str) else destination
        native = self.app.__taskora_app__
        replies = native.broadcast(command, args=arguments or {}, timeout=timeout if reply else 0.0,
                                   destination=targets or None)
        if not reply:
            return None
        answers = [{host: answer} for host, answer in sorted(replies.items())]
        for answer in answers:
            if callback is not None:
                callback(answer)
        return answers[:limit] if limit else answers

    def revoke_by_stamped_headers(self, headers: dict[str, Any], destination: Any = None, terminate: bool = False,
                                  signal: str = "SIGTERM", reply: bool = False, timeout: float | None = None,
                                  **kwargs: Any) -> list[Any]:  # fmt: skip
        """Cancel every unfinished job stamped with one of ``headers``' values (``{stamp: value or [values]}``).

        Jobs are found in the store (waiting, delayed and running), so this reaches every worker; jobs
        sent later with those stamps are refused by the workers: the live ones are told the stamps
        (``worker.state.revoked_stamps``) and answer before this returns, and the stamps are kept in the store
        for workers started later (``_revoked_stamps``). Returns the ids cancelled; with ``reply=True``, the workers'
        answers instead (``[{node: {'ok': ...}}]``, Celery's), within ``timeout`` (1 s).

        Raises:
            ValueError: ``headers`` is not a non-empty dict.
        """
        if not isinstance(headers, dict) or not headers:
            raise ValueError(f"revoke_by_stamped_headers needs a dict of stamps, got {headers!r}")
        wanted = {name: set(_as_list(value)) for name, value in headers.items()}
        native = self.app.__taskora_app__
        cancelled = []
        for engine in list(native.tasks):
            for state in _OPEN_STATES:
                for job_id in native.adapter.list_ids(engine, state):
                    handle = native.handle(engine, job_id)
                    if _stamped_with(handle.fields(["celery.headers"]), wanted):
                        handle.cancel("terminated" if terminate else "revoked")
                        cancelled.append(job_id)
        _revoked_stamps.remember(self.app, headers)
        targets = [destination] if isinstance(destination, str) else destination
        # Wait for the live workers' acknowledgement even without reply=True: a task sent right after this call
        # must find its stamps revoked in every worker (the wait ends as soon as all have answered).
        wait = 1.0 if timeout is None else timeout
        replies = native.broadcast("revoke_by_stamped_headers", args={"headers": headers, "terminate": terminate},
                                   timeout=wait, destination=targets or None)  # fmt: skip
        return [{host: answer} for host, answer in sorted(replies.items())] if reply else cancelled


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def _stamped_with(fields: dict[str, Any] | None, wanted: dict[str, set[Any]]) -> bool:
    """Whether a job's stored headers carry any wanted value of any wanted stamp."""
    raw = (fields or {}).get("celery.headers")
    try:
        headers = json.loads(raw) if raw else {}
    except ValueError:
        return False
    stamps = headers.get("stamps") or {} if isinstance(headers, dict) else {}
    for name, values in wanted.items():
        if name in stamps and any(_hashable(v) in values for v in _as_list(stamps[name])):
            return True
    return False


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


class InspectExtrasMixin:
    """Celery's ``inspect()`` methods answered by ``taskora.compat.worker.inspect_commands`` on each worker."""

    app: Any
    destination: Any
    timeout: float
    limit: int | None

    def _ask_with(self, command: str, **arguments: Any) -> dict[str, Any] | None:
        replies = self.app.__taskora_app__.broadcast(command, args=arguments, timeout=self.timeout,
                                                     destination=self.destination or None, limit=self.limit)
        return dict(sorted(replies.items())) or None

    def clock(self) -> dict[str, Any] | None:
        return self._ask_with("clock")

    def active_queues(self) -> dict[str, Any] | None:
        return self._ask_with("active_queues")

    def query_task(self, *ids: Any) -> dict[str, Any] | None:
        """``{node: {id: [state, request]}}`` for the given ids running on each worker."""
        flat = [i for item in ids for i in ([item] if isinstance(item, str) else item)]
        return self._ask_with("query_task", ids=flat)

    def report(self) -> dict[str, Any] | None:
        return self._ask_with("report")

    def conf(self, with_defaults: bool = False) -> dict[str, Any] | None:
        return self._ask_with("conf", with_defaults=with_defaults)
