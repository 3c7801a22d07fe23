"""``python -m taskora ...``: the same command line as ``taskora``."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    main()
