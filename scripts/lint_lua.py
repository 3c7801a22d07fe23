"""Lint the engine as Redis receives it, under luacheck: each script with its includes inlined (``EVALSHA``), and
the function library that holds them all (``FCALL``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import taskora.lua as engine


def main() -> int:
    if shutil.which("luacheck") is None:
        print("luacheck not found (Debian package lua-check)", file=sys.stderr)
        return 2
    config = Path(engine.__file__).with_name(".luacheckrc")
    with tempfile.TemporaryDirectory() as tmp:
        for name in engine.names():
            Path(tmp, f"{name}.lua").write_text(engine.load(name), encoding="utf-8")
        Path(tmp, "library.lua").write_text(engine.library("taskora")[0], encoding="utf-8")
        return subprocess.call(["luacheck", "--config", str(config), "--no-color", "-q", tmp])


if __name__ == "__main__":
    sys.exit(main())
