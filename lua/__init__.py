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
    """Return the full text of script ``name`` with its includes inlined (a helper may include another)."""
    return _inline(_read(f"{name}.lua"))


def _inline(text: str) -> str:
    return _INCLUDE.sub(lambda m: _inline(_read(f"{m.group(1)}.lua").rstrip("\n")), text)


def names() -> list[str]:
    """Every script (not helper) shipped with this version, sorted."""
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".lua"))
