"""Where the repository's files are, for tests in any directory under tests/ (a test moved to another
directory keeps finding them: nothing here depends on the test's own location)."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (the directory holding taskora/, compat/, docs/, examples/).
ROOT = Path(__file__).resolve().parents[1]
#: The TypeScript taskora's recorded Redis states (tests/fixtures/interop/README.md).
INTEROP_FIXTURES = ROOT / "tests" / "fixtures" / "interop"
