"""Function sizes of taskora/ and compat/, read with ``ast`` (nothing is imported): count, median, p90 and the
longest functions, in lines from ``def`` to the last line of the body (decorators and docstrings included).

Run: ``python scripts/function_sizes.py [ROOT] [--top N]`` (ROOT: a checkout, the current directory by default);
the style target is a p90 near 16 lines and no function over ~50.
"""

from __future__ import annotations

import argparse
import ast
import statistics
from pathlib import Path

TREES = ("taskora", "compat")


def function_sizes(root: Path) -> list[tuple[int, str]]:
    """(lines, "path:line name") for every function and method under the trees."""
    sizes = []
    for tree in TREES:
        for path in sorted((root / tree).rglob("*.py")):
            module = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(module):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    assert node.end_lineno is not None
                    where = f"{path.relative_to(root)}:{node.lineno} {node.name}"
                    sizes.append((node.end_lineno - node.lineno + 1, where))
    return sizes


def report(root: Path, top: int) -> str:
    sizes = function_sizes(root)
    lines = sorted(n for n, _ in sizes)
    p90 = lines[int(0.9 * (len(lines) - 1))]
    out = [f"functions: {len(lines)}  median: {statistics.median(lines):g}  p90: {p90}  over 50: "
           f"{sum(n > 50 for n in lines)}  longest:"]
    out += [f"  {n:4d}  {where}" for n, where in sorted(sizes, reverse=True)[:top]]
    return "\n".join(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=".", type=Path)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    print(report(args.root, args.top))
