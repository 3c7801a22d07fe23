"""The layers import one way: compat -> taskora -> adapters -> lua, never back.

Read from the source with ``ast`` (nothing is imported), so a function-local or ``TYPE_CHECKING`` import
counts like any other: a dependency hidden inside a function is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.import_graph import MODULES, Edge, cycles, edges_of

# Leaf modules every layer may use: they import nothing of ours.
FOUNDATION = {"taskora.errors", "taskora.clock", "taskora.ids", "taskora.urls"}


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Every module of ours that ``module`` imports, resolved to its dotted name, wherever the import stands."""
    return (edge.target for edge in edges_of(module, path))


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


# -- no module-level import cycle -----------------------------------------------------------------------------------
def runtime_cycles() -> list[list[str]]:
    """Groups of modules (in taskora/ and taskora/compat/) that import each other when imported: module-level
    imports only (function-local and ``TYPE_CHECKING`` ones do not run at import; tests/import_graph.py counts them)."""
    return cycles(edge for module, path in sorted(MODULES.items()) for edge in edges_of(module, path)
                  if edge.kind == "module")


def test_no_module_level_import_cycle() -> None:
    assert runtime_cycles() == []


def test_the_cycle_check_tells_module_level_imports_from_deferred_ones(tmp_path: Path) -> None:
    """The checker itself: where an import stands decides its kind, and only module-level edges make a cycle."""
    fake = tmp_path / "x.py"
    fake.write_text("from typing import TYPE_CHECKING\n\nfrom .canvas import Signature\n\nif TYPE_CHECKING:\n"
                    "    from .states import READY_STATES\n\n\nclass C:\n    from . import signals\n\n"
                    "    def f(self):\n        from . import result\n")
    kinds = {edge.target: edge.kind for edge in edges_of("taskora.compat.x", fake)}
    assert kinds == {"taskora.compat.canvas": "module", "taskora.compat.states": "type_checking",
                     "taskora.compat.signals": "module", "taskora.compat.result": "function"}
    there = Edge("a", "b", "module", 1)
    assert cycles([there, Edge("b", "a", "module", 1)]) == [["a", "b"]]
    assert cycles([there, Edge("b", "a", "function", 1)]) == [["a", "b"]]  # all kinds given: a cycle
    assert cycles(e for e in [there, Edge("b", "a", "function", 1)]
                                             if e.kind == "module") == []


# -- no cycle hidden in function-local imports ---------------------------------------------------------------------
def deferred_cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """Groups of modules that import each other once function-local imports count (they run at the first call,
    so the loop is real, only hidden from the import system); ``TYPE_CHECKING`` imports never run and do not."""
    return cycles(edge for edge in edges if edge.kind in ("module", "function"))


def _edges() -> list[Edge]:
    return [edge for module, path in sorted(MODULES.items()) for edge in edges_of(module, path)]


def test_no_import_cycle_through_function_local_imports() -> None:
    """No exception is listed: the last one (the Celery front's canvas and publish path, nine modules) was broken
    by compat/_canvas_api.py, through which the task and publish modules reach the canvas above them."""
    assert deferred_cycles(_edges()) == []


def test_the_deferred_cycle_check_sees_a_function_local_loop() -> None:
    """The checker itself: a function-local import closing a loop is reported, a ``TYPE_CHECKING`` one is not."""
    there = Edge("taskora.compat.app.task", "taskora.compat.canvas", "function", 1)
    back = Edge("taskora.compat.canvas", "taskora.compat.app.task", "module", 1)
    assert deferred_cycles([there, back]) == [["taskora.compat.app.task", "taskora.compat.canvas"]]
    assert deferred_cycles([Edge(there.source, there.target, "type_checking", 1), back]) == []


def test_the_deferred_cycle_check_sees_a_function_local_import_in_a_real_file(tmp_path: Path) -> None:
    """Re-adding ``from ..canvas import signature`` inside a Task method closes the loop the check must see."""
    task_file = tmp_path / "task.py"
    task_file.write_text(MODULES["taskora.compat.app.task"].read_text(encoding="utf-8")
                         + "\n\ndef _sig(task):\n    from ..canvas import signature\n\n    return signature(task)\n")
    edges = [e for e in _edges() if e.source != "taskora.compat.app.task"]
    edges += edges_of("taskora.compat.app.task", task_file)
    found = deferred_cycles(edges)
    assert any({"taskora.compat.app.task", "taskora.compat.canvas"} <= set(c) for c in found), found


@pytest.mark.parametrize("module", ["taskora.compat.app.base", "taskora.adapters.redis", "taskora.lua"])
def test_every_tree_is_read(module: str) -> None:
    assert module in MODULES


# -- the adapter contract (taskora/adapters/base.py) ---------------------------------------------------------------
#: Modules above adapters/ that may import a concrete adapter module: where one is constructed.
CONSTRUCTORS = {"taskora.app", "taskora.redis", "taskora.memory"}
#: What the layers above may import from adapters/: the contract and its values (the rest is one adapter's inside).
CONTRACT = {"taskora.adapters.base"}
#: Attributes of an adapter that are its inside: its connections and its engine scripts.
ADAPTER_INSIDE = {"client", "blocking", "scripts", "runner"}
#: Modules allowed to reach past the contract, with what they may touch: none today; keep it that way.
WORKER_ALLOWED: dict[str, set[str]] = {}


def _names_adapter(node: ast.expr) -> bool:
    """``adapter``, ``self.adapter``, ``app.adapter``, ``native.adapter``...: an expression naming an adapter."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return name == "adapter" or name.endswith("_adapter")


def adapter_bypasses(path: Path) -> set[str]:
    """``adapter.client``-like uses in one file: an adapter's connections, scripts, or any underscore name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and _names_adapter(node.value):
            if node.attr in ADAPTER_INSIDE or (node.attr.startswith("_") and not node.attr.startswith("__")):
                found.add(f"adapter.{node.attr}")
    return found


def concrete_adapter_imports(module: str, path: Path) -> set[str]:
    return {f"imports {target}" for target in imported_names(module, path)
            if target.startswith("taskora.adapters") and target not in CONTRACT}


def contract_breaches() -> dict[str, set[str]]:
    """Per module above adapters/: how it reaches past the Adapter protocol, beyond what it is allowed."""
    breaches = {}
    for module, path in sorted(MODULES.items()):
        if layer(module) not in ("taskora", "compat") or module in FOUNDATION:
            continue
        found = adapter_bypasses(path)
        if module not in CONSTRUCTORS:
            found |= concrete_adapter_imports(module, path)
        found -= WORKER_ALLOWED.get(module, set())
        if found:
            breaches[module] = found
    return breaches


def test_code_above_adapters_goes_through_the_adapter_contract() -> None:
    assert contract_breaches() == {}


def test_the_worker_allow_list_only_names_what_is_still_there() -> None:
    """An allow-list entry that no longer happens must go, so the list only ever shrinks."""
    for module, allowed in WORKER_ALLOWED.items():
        path = MODULES[module]
        assert allowed <= adapter_bypasses(path) | concrete_adapter_imports(module, path), module


@pytest.mark.parametrize("source", [
    "def f(app):\n    return app.adapter.client.get('k')\n",
    "def f(adapter):\n    adapter.scripts.load_all(None)\n",
    "def f(self):\n    return self.adapter._pipeline_scripts(None, [])\n",
    "def f(native):\n    return native.adapter.runner\n",
])
def test_the_contract_sees_a_bypass(tmp_path: Path, source: str) -> None:
    fake = tmp_path / "x.py"
    fake.write_text(source)
    assert adapter_bypasses(fake)


def test_the_contract_sees_a_concrete_adapter_import(tmp_path: Path) -> None:
    fake = tmp_path / "x.py"
    fake.write_text("from ..adapters.redis import RedisAdapter\nfrom ..adapters.base import Adapter\n")
    assert concrete_adapter_imports("taskora.workflow.x", fake) == {"imports taskora.adapters.redis"}


def compat_names_in_native_code() -> list[str]:
    """String literals naming the Celery front in native modules (docstrings aside): the engine building or
    storing one of compat's types by name would tie old jobs to compat's file layout."""
    found = []
    for module, path in sorted(MODULES.items()):
        if layer(module) == "compat":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if "taskora.compat" in node.value:
                    found.append(f"{module}:{node.lineno}: {node.value!r}")
    return found


def test_native_code_names_nothing_of_the_celery_front() -> None:
    assert compat_names_in_native_code() == []
