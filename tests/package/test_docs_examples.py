"""Every ```python block of the documentation site runs, as written, on the in-memory engine.

A block fenced ```python is a complete program and is executed here in a fresh interpreter; a block
fenced ```py is a fragment (it needs a Redis, or a module around it) and is only shown. So an example
a reader copies from the docs works, and a change that breaks one fails this test.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

DOCS = ROOT / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        if page.is_symlink() or any(p.is_symlink() for p in page.parents if DOCS in p.parents):
            continue  # pages brought in from elsewhere (the migration guide) have no runnable blocks
        for number, match in enumerate(BLOCK.finditer(page.read_text(encoding="utf-8")), start=1):
            found.append((f"{page.relative_to(DOCS)}#{number}", match.group(1)))
    return found


EXAMPLES = examples()


def test_the_docs_have_runnable_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("source", [code for _, code in EXAMPLES], ids=[name for name, _ in EXAMPLES])
def test_example_runs(source: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(source, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, f"the example failed:\n{done.stdout}\n{done.stderr}"
