"""``--uid``/``--gid``: run as an unprivileged user, as ``celery worker --uid`` does.

Celery drops privileges before it writes its pidfile and log, so those belong to the user the worker
runs as; taskora does the same. Names and numbers are both accepted; an unknown one is a clear error.
"""

from __future__ import annotations

import grp
import os
import pwd

from ._output import CliError


def resolve_uid(value: str) -> int:
    """A user name or number -> uid."""
    if value.isdigit():
        return int(value)
    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        raise CliError(f"--uid {value}: no such user") from None


def resolve_gid(value: str) -> int:
    """A group name or number -> gid."""
    if value.isdigit():
        return int(value)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise CliError(f"--gid {value}: no such group") from None


def drop_privileges(uid: str | None, gid: str | None) -> None:
    """Become ``uid``/``gid`` (group first: once the user changed, the group can no longer be set)."""
    if not uid and not gid:
        return
    target_uid = resolve_uid(uid) if uid else None
    target_gid = resolve_gid(gid) if gid else _primary_gid(target_uid)
    try:
        if target_gid is not None and target_gid != os.getgid():
            os.setgroups([target_gid])
            os.setgid(target_gid)
        if target_uid is not None and target_uid != os.getuid():
            os.setuid(target_uid)
    except PermissionError as exc:
        raise CliError(f"cannot switch to uid={uid or '-'} gid={gid or '-'}: {exc.strerror} "
                       f"(only root can drop to another user)") from None
    if target_uid is not None and target_uid != 0:
        _refuse_regain_root()


def _primary_gid(uid: int | None) -> int | None:
    if uid is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return None


def _refuse_regain_root() -> None:
    """Celery checks the drop cannot be undone; so do we (a setuid(0) that succeeds is a failed drop)."""
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise CliError("dropping privileges failed: the process could switch back to root")
