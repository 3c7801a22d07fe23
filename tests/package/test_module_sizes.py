"""scripts/module_sizes.py, run as a user runs it, on a small tree whose sizes are known."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT


def test_module_and_class_sizes_of_a_known_tree(tmp_path: Path) -> None:
    (tmp_path / "taskora").mkdir()
    (tmp_path / "compat").mkdir()
    (tmp_path / "taskora" / "big.py").write_text(
        "class Worker:\n    def a(self):\n        pass\n\n    async def b(self):\n        pass\n\n"
        "    class Inner:\n        def c(self):\n            pass\n")
    (tmp_path / "compat" / "small.py").write_text("X = 1\n")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "module_sizes.py"), str(tmp_path), "--top", "2"],
                          capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.splitlines() == [
        "modules: 2  median: 5.5 lines  p90: 1  largest:",
        "    10  taskora/big.py",
        "     1  compat/small.py",
        "classes: 2  median: 1.5 methods  p90: 1  largest:",
        "     2  taskora/big.py:1 Worker",
        "     1  taskora/big.py:8 Inner",
    ]
