"""Saved groups: a group's member list kept under ``taskora:group:{<id>}`` so another process can
rebuild the group's result handle from its id alone (Celery's ``GroupResult.save()/restore()``).

Members are opaque strings chosen by the caller (job ids, or ``task|id`` pairs); the list is written
in one ``SET`` so a reader sees all of it or nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..durations import to_ms
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..app import Taskora


def _check_id(group_id: Any) -> str:
    if not isinstance(group_id, str) or not group_id:
        raise ConfigurationError(f"a saved group needs a non-empty string id, got {group_id!r}")
    return group_id


def save_group(app: Taskora, group_id: str, members: Sequence[str], ttl: Any = None) -> None:
    """Store ``members`` under ``group_id`` (replacing a previous save); ``ttl`` (seconds, "1d"...) expires it."""
    group_id = _check_id(group_id)
    bad = [m for m in members if not isinstance(m, str)]
    if bad:
        raise ConfigurationError(f"group members must be strings, got {bad[0]!r}")
    px = to_ms(ttl, name="ttl") if ttl is not None else None
    app.adapter.group_save(group_id, json.dumps(list(members)), px if px else None)


def load_group(app: Taskora, group_id: str) -> list[str] | None:
    """The members saved under ``group_id``, or None when nothing was saved (or it expired)."""
    raw = app.adapter.group_load(_check_id(group_id))
    if raw is None:
        return None
    members = json.loads(raw)
    return [str(m) for m in members]


def delete_group(app: Taskora, group_id: str) -> bool:
    """Forget a saved group; True when something was deleted."""
    return app.adapter.group_delete(_check_id(group_id))
