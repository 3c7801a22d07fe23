"""The engine's Lua scripts, shipped as package data: one file per job transition.

A script may pull shared helpers in with a line ``--@include lib/<name>``; ``load`` inlines them, so
Redis receives one self-contained script (Redis scripts share no scope) while the source keeps a
single copy of each helper.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_INCLUDE = re.compile(r"^--@include (lib/[a-z_]+)\s*$", re.MULTILINE)


def _read(relative: str) -> str:
    path = resources.files(__name__).joinpath(relative)
    if not path.is_file():
        raise FileNotFoundError(f"taskora engine script {relative!r} is not installed")
    return path.read_text(encoding="utf-8")


@cache
def load(name: str) -> str:
    """Return the full text of script ``name`` with its includes inlined (a helper may include another;
    each is inlined once, where it is first included)."""
    return _inline(_read(f"{name}.lua"), set())


def _inline(text: str, seen: set[str]) -> str:
    def one(match: re.Match[str]) -> str:
        helper = match.group(1)
        if helper in seen:
            return ""
        seen.add(helper)
        return _inline(_read(f"{helper}.lua").rstrip("\n"), seen)

    return _INCLUDE.sub(one, text)


def names() -> list[str]:
    """Every script (not helper) shipped with this version, sorted."""
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".lua"))
