"""Revoking by stamped headers ahead of time: a worker refuses a job whose stamps were revoked.

``control.revoke_by_stamped_headers`` cancels the stored jobs carrying the stamps, but a task sent *after*
the call has no job yet. Celery's worker keeps the revoked stamps (``worker.state.revoked_stamps``) and
discards any request carrying one when it arrives; so does taskora's, here:

* the live workers are told the stamps (the ``revoke_by_stamped_headers`` control command);
* the stamps are also kept in the store (``<root>:celery:revoked-stamps``, a hash of ``[stamp, value]``
  pairs expiring after ``REVOKE_EXPIRES``, as revoked ids do), and a worker starting later loads them;
* a worker about to run a job whose stamps match cancels the job instead (reason ``revoked``): its result
  is REVOKED and ``task_revoked`` is sent, as for a job revoked before it ran.

The check reads the worker's own ``revoked_stamps`` only, so clearing it (a test does) un-revokes them here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..worker import state as worker_state

__all__ = ["load_into_worker", "refuse_if_revoked", "remember", "stored_stamps"]

log = logging.getLogger("celery.worker.request")

#: How long stored stamp revocations last (seconds): Celery's lifetime of a revoked id.
REVOKE_EXPIRES = worker_state.REVOKE_EXPIRES


def _key(app: Any) -> str:
    return f"{app.__taskora_app__.adapter.keys.root}:celery:revoked-stamps"


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def remember(app: Any, headers: dict[str, Any]) -> None:
    """Keep ``{stamp: value or [values]}`` in the store for workers that start later."""
    pairs = [json.dumps([name, value]) for name, values in headers.items() for value in _values(values)]
    if not pairs:
        return
    client = app.__taskora_app__.adapter.raw_client()
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(_key(app), mapping=dict.fromkeys(pairs, "1"))
        pipe.expire(_key(app), REVOKE_EXPIRES)
        pipe.execute()


def stored_stamps(app: Any) -> dict[str, list[Any]]:
    """The stamp revocations kept in the store, ``{stamp: [values]}``."""
    found: dict[str, list[Any]] = {}
    for raw in app.__taskora_app__.adapter.raw_client().hkeys(_key(app)):
        try:
            name, value = json.loads(raw)
        except (TypeError, ValueError):
            continue
        found.setdefault(str(name), []).append(value)
    return found


def load_into_worker(app: Any) -> None:
    """A starting worker takes the stored revocations into its ``worker.state.revoked_stamps``."""
    for name, values in stored_stamps(app).items():
        known = _values(worker_state.revoked_stamps.get(name) or [])
        worker_state.revoked_stamps[name] = known + [v for v in values if v not in known]


def revoked_stamp(request: Any) -> tuple[str, Any] | None:
    """The first of the request's stamps this worker holds as revoked, as ``(stamp, value)``, else None."""
    revoked = worker_state.revoked_stamps
    if not revoked:
        return None
    for name, stamped in (getattr(request, "stamps", None) or {}).items():
        if name not in revoked:
            continue
        wanted = _values(revoked[name])
        for value in _values(stamped):
            if value in wanted:
                return name, value
    return None


def refuse_if_revoked(app: Any, task: Any, request: Any, ctx: Any) -> bool:
    """Cancel the job (reason ``revoked``) instead of running it when one of its stamps is revoked here."""
    match = revoked_stamp(request)
    if match is None or ctx is None:
        return False
    log.info("Discarding revoked task: %s[%s] (revoked by header: %s=%r)", task.name, request.id, *match)
    worker_state.revoked.add(request.id)
    app.__taskora_app__.handle(ctx.task, ctx.id).cancel("revoked")
    ctx.signal.abort("cancelled")  # the worker records the job cancelled once the handler returns
    return True
