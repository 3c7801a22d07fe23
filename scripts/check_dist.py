"""Check that a built wheel and sdist carry every file the package needs at run time.

    python scripts/check_dist.py dist/

The wheel must hold each engine script (``lua/**/*.lua``), the ``py.typed`` markers and the board's page
(``taskora/board/static``); the sdist must hold the same sources, so a wheel built from it is complete too.
A file missing from either is named.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent
# source tree path -> path inside the wheel
TREES = {"lua": "taskora/lua", "taskora": "taskora", "compat": "taskora/compat"}
DATA_SUFFIXES = (".lua", ".typed", ".html", ".js", ".css")  # the engine scripts, markers, the board's page


def required_files() -> dict[str, str]:
    """Every data file in the source trees, as {source path: wheel path}."""
    wanted = {}
    for tree, installed in TREES.items():
        for path in (SOURCE / tree).rglob("*"):
            if path.is_file() and path.suffix in DATA_SUFFIXES:
                relative = path.relative_to(SOURCE / tree).as_posix()
                wanted[f"{tree}/{relative}"] = f"{installed}/{relative}"
    return wanted


def missing_from_wheel(wheel: Path, wanted: dict[str, str]) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        present = set(archive.namelist())
    return sorted(path for path in wanted.values() if path not in present)


def missing_from_sdist(sdist: Path, wanted: dict[str, str]) -> list[str]:
    with tarfile.open(sdist) as archive:
        present = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    return sorted(path for path in wanted if path not in present)


def main(dist: Path) -> int:
    wanted = required_files()
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if not wheels or not sdists:
        print(f"check_dist: {dist} needs one wheel and one sdist (found {len(wheels)} and {len(sdists)})")
        return 1
    problems = [f"wheel {wheels[-1].name} lacks {p}" for p in missing_from_wheel(wheels[-1], wanted)]
    problems += [f"sdist {sdists[-1].name} lacks {p}" for p in missing_from_sdist(sdists[-1], wanted)]
    for problem in problems:
        print(f"check_dist: {problem}")
    if not problems:
        print(f"check_dist: wheel and sdist carry all {len(wanted)} data files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
