"""Worker node names (``celery.utils.nodenames``): ``name@host``, with Celery's ``%h``/``%n``/``%d`` formats."""

from __future__ import annotations

import os
import socket

__all__ = ["NODENAME_SEP", "NODENAME_DEFAULT", "nodename", "anon_nodename", "nodesplit", "default_nodename",
           "node_format", "host_format", "gethostname"]

NODENAME_SEP = "@"
NODENAME_DEFAULT = "celery"


def gethostname() -> str:
    """This machine's host name (``CELERY_HOSTNAME`` is not consulted; taskora reads ``-n``)."""
    return socket.gethostname()


def nodename(name: str, hostname: str) -> str:
    """``name@hostname``."""
    return NODENAME_SEP.join((name, hostname))


def anon_nodename(hostname: str | None = None, prefix: str = "gen") -> str:
    """The node name of a process that is not a worker: ``gen<pid>@host``."""
    return nodename(f"{prefix}{os.getpid()}", hostname or gethostname())


def nodesplit(name: str) -> tuple[str | None, str]:
    """``'a@b'`` → ``('a', 'b')``; a name without ``@`` is a host: ``(None, name)``."""
    parts = name.split(NODENAME_SEP, 1)
    return (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def default_nodename(hostname: str | None, default_name: str = NODENAME_DEFAULT) -> str:
    """A full node name from ``hostname`` (which may lack the name or the host half)."""
    name, host = nodesplit(hostname or "")
    return nodename(name or default_name, host or gethostname())


def host_format(s: str, host: str | None = None, name: str | None = None, **extra: str) -> str:
    """Expand ``%h`` (host), ``%n`` (name, default the host's first label), ``%d`` (domain), ``%%``."""
    host = host or gethostname()
    short, _, domain = host.partition(".")
    keys = {"h": host, "n": name or short, "d": domain, **extra}
    out, i = [], 0
    while i < len(s):
        if s[i] == "%" and i + 1 < len(s) and (s[i + 1] in keys or s[i + 1] == "%"):
            out.append("%" if s[i + 1] == "%" else str(keys[s[i + 1]]))
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def node_format(s: str, name: str, **extra: str) -> str:
    """Expand a format for node ``name`` (``%p`` is the full node name)."""
    short, host = nodesplit(name)
    return host_format(s, host, short or NODENAME_DEFAULT, p=name, **extra)
