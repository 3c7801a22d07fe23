"""Module and class sizes of taskora/ and compat/, read with ``ast`` (nothing is imported): the longest modules
in lines and the classes with the most methods (each counted in the class that defines it: a class built from
mixins shows its own methods, and each mixin its own).

Run: ``python scripts/module_sizes.py [ROOT] [--top N]`` (ROOT: a checkout, the current directory by default).
Issue #21 asks for these before and after a structural change, beside ``scripts/function_sizes.py``.
"""

from __future__ import annotations

import argparse
import ast
import statistics
from pathlib import Path

TREES = ("taskora", "compat")


def _sources(root: Path) -> list[Path]:
    return [path for tree in TREES for path in sorted((root / tree).rglob("*.py"))]


def module_sizes(root: Path) -> list[tuple[int, str]]:
    """(lines, path) for every module under the trees."""
    return [(len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(root)))
            for path in _sources(root)]


def class_sizes(root: Path) -> list[tuple[int, str]]:
    """(methods, "path:line Name") for every class under the trees; a method is a def in the class body."""
    sizes = []
    for path in _sources(root):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                methods = sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in node.body)
                sizes.append((methods, f"{path.relative_to(root)}:{node.lineno} {node.name}"))
    return sizes


def _summary(title: str, unit: str, sizes: list[tuple[int, str]], top: int) -> list[str]:
    counts = sorted(n for n, _ in sizes)
    p90 = counts[int(0.9 * (len(counts) - 1))] if counts else 0
    median = statistics.median(counts) if counts else 0
    out = [f"{title}: {len(counts)}  median: {median:g} {unit}  p90: {p90}  largest:"]
    return out + [f"  {n:4d}  {where}" for n, where in sorted(sizes, reverse=True)[:top]]


def report(root: Path, top: int) -> str:
    return "\n".join(_summary("modules", "lines", module_sizes(root), top)
                     + _summary("classes", "methods", class_sizes(root), top))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=".", type=Path)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    print(report(args.root, args.top))
