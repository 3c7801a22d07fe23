"""The layers import one way: compat -> taskora -> adapters -> lua, never back.

Read from the source with ``ast`` (nothing is imported), so a function-local or ``TYPE_CHECKING`` import
counts like any other: a dependency hidden inside a function is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TREES = {"taskora": "taskora", "compat": "taskora.compat", "lua": "taskora.lua"}
# Leaf modules every layer may use: they import nothing of ours.
FOUNDATION = {"taskora.errors", "taskora.clock", "taskora.ids", "taskora.urls"}


def module_files() -> dict[str, Path]:
    modules = {}
    for tree, package in TREES.items():
        for path in (ROOT / tree).rglob("*.py"):
            parts = list(path.relative_to(ROOT / tree).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


MODULES = module_files()


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Every module of ours that ``module`` imports, resolved to its dotted name."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in MODULES else base


def _absolute(package: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def layer(module: str) -> str:
    if module.startswith("taskora.compat"):
        return "compat"
    if module.startswith("taskora.lua"):
        return "lua"
    if module.startswith("taskora.adapters") or module in FOUNDATION:
        return "adapters"
    return "taskora"


ALLOWED = {
    "lua": {"lua"},
    "adapters": {"adapters", "lua"},
    "taskora": {"taskora", "adapters", "lua"},
    "compat": {"compat", "taskora", "adapters", "lua"},
}


def violations() -> list[str]:
    found = []
    for module, path in sorted(MODULES.items()):
        for target in set(imported_names(module, path)):
            if target in MODULES and layer(target) not in ALLOWED[layer(module)]:
                found.append(f"{module} ({layer(module)}) imports {target} ({layer(target)})")
    return found


def test_layers_import_one_way() -> None:
    assert violations() == []


def test_foundation_modules_import_nothing_of_ours() -> None:
    for module in sorted(FOUNDATION):
        assert [t for t in imported_names(module, MODULES[module]) if t in MODULES] == [], module


def test_the_contract_sees_a_backward_import(tmp_path: Path) -> None:
    """The checker itself: an adapter importing the native worker is reported."""
    fake = tmp_path / "x.py"
    fake.write_text("from ..worker import loop\n")
    names = set(imported_names("taskora.adapters.x", fake))
    assert "taskora.worker.loop" in names
    assert layer("taskora.worker.loop") not in ALLOWED[layer("taskora.adapters.x")]


@pytest.mark.parametrize("module", ["taskora.compat.app.base", "taskora.adapters.redis", "taskora.lua"])
def test_every_tree_is_read(module: str) -> None:
    assert module in MODULES
