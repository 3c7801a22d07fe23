"""Where the repository's files are, for tests in any directory under tests/ (a test moved to another
directory keeps finding them: nothing here depends on the test's own location)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

#: The repository's root (the directory holding taskora/, compat/, docs/, examples/).
ROOT = Path(__file__).resolve().parents[1]
#: The TypeScript taskora's recorded Redis states (tests/fixtures/interop/README.md).
INTEROP_FIXTURES = ROOT / "tests" / "fixtures" / "interop"


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (scripts/ is not a package), for tests of the tools CI runs."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
