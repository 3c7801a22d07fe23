"""The import graph of taskora/ (and compat/, lua/ as installed: taskora.compat, taskora.lua), read from the
source with ``ast`` (nothing is imported), each edge tagged with where the import stands:

* ``module``: run when the module is imported (top level, a class body, a module-level ``try``/``if``);
* ``function``: inside a function, run at its first call (often a cycle hidden from the import system);
* ``type_checking``: under ``if TYPE_CHECKING:``, never run.

Used by tests/package/test_import_contract.py (the layer rules, no module-level cycle). ``python -m tests.import_graph``
prints the edge counts and the strongly connected components (SCCs: groups of modules that import each other,
directly or around a loop) for each kind of edge taken in turn.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = {"taskora": "taskora", "compat": "taskora.compat", "lua": "taskora.lua"}
KINDS = ("module", "function", "type_checking")


def module_files() -> dict[str, Path]:
    """Every module of ours by dotted name (a package by its ``__init__.py``)."""
    modules = {}
    for tree, package in TREES.items():
        for path in (ROOT / tree).rglob("*.py"):
            parts = list(path.relative_to(ROOT / tree).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


MODULES = module_files()


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # one of KINDS
    line: int


def _absolute(package: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _targets(package: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The modules of ours one import statement names (``from pkg import sub`` names ``pkg.sub``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if alias.name in MODULES)
        return
    base = _absolute(package, node)
    for alias in node.names:
        full = f"{base}.{alias.name}"
        yield full if full in MODULES else base


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST, kind: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import below ``node`` with the kind of the place it stands in (a function wins over the rest)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, kind
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _imports(child, "function")
        elif isinstance(child, ast.If) and _is_type_checking(child.test) and kind == "module":
            for stmt in child.body:
                yield from _imports(ast.Module(body=[stmt], type_ignores=[]), "type_checking")
            for stmt in child.orelse:
                yield from _imports(ast.Module(body=[stmt], type_ignores=[]), kind)
        else:
            yield from _imports(child, kind)


def edges_of(module: str, path: Path) -> list[Edge]:
    """The imports of ours in one file, each resolved to its dotted target and tagged with its kind."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [Edge(module, target, kind, node.lineno) for node, kind in _imports(tree, "module")
            for target in _targets(package, node) if target in MODULES and target != module]


def all_edges() -> list[Edge]:
    return [edge for module, path in sorted(MODULES.items()) for edge in edges_of(module, path)]


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), largest first."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    return sorted((sorted(c) for c in _tarjan(graph) if len(c) > 1), key=lambda c: (-len(c), c))


def _tarjan(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (no recursion limit on a deep import chain)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    found.append(_pop_component(stack, on_stack, node))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    component = []
    while True:
        node = stack.pop()
        on_stack.discard(node)
        component.append(node)
        if node == root:
            return component


def report() -> str:
    """Edge counts per kind and the SCC sizes of the runtime graph, with and without function-local imports."""
    edges = all_edges()
    lines = [f"modules: {len(MODULES)}"]
    lines += [f"{kind} edges: {sum(e.kind == kind for e in edges)}" for kind in KINDS]
    for title, kinds in (("module-level", {"module"}), ("module-level + function-local", {"module", "function"}),
                         ("all (incl. TYPE_CHECKING)", set(KINDS))):
        sccs = cycles(e for e in edges if e.kind in kinds)
        lines.append(f"SCCs, {title}: {[len(c) for c in sccs]}")
        lines += [f"  {len(c)}: {' '.join(c)}" for c in sccs]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
