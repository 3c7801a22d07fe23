"""The engine's Lua scripts, shipped as package data: one file per job transition."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """Return the text of ``<name>.lua``; raises FileNotFoundError naming the script."""
    path = resources.files(__name__).joinpath(f"{name}.lua")
    if not path.is_file():
        raise FileNotFoundError(f"taskora engine script {name!r} is not installed (looked for {name}.lua)")
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    """Every script shipped with this version, sorted."""
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".lua"))
