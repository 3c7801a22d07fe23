"""Print the Python versions setup.cfg's classifiers claim (``Programming Language :: Python :: 3.N``), one a line.

    python scripts/claimed_pythons.py      (.ci/wheel installs the wheel on each one the machine has)

The classifiers are what PyPI shows a user deciding whether taskora runs on their Python, so they, not a list kept
in the CI script, say where the wheel is tried.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def claimed_versions(setup_cfg: Path = ROOT / "setup.cfg") -> list[str]:
    config = configparser.ConfigParser()
    config.read(setup_cfg)
    lines = (line.strip() for line in config["metadata"]["classifiers"].splitlines())
    return [m[1] for line in lines if (m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", line))]


if __name__ == "__main__":
    print("\n".join(claimed_versions()))
