"""scripts/claimed_pythons.py, which tells .ci/wheel where to try the wheel: it reads every version the classifiers
claim, from the oldest ``python_requires`` admits up without a gap, so no claimed Python goes untried."""

from __future__ import annotations

import configparser
import sys
from pathlib import Path

from tests.paths import ROOT, load_script

claimed_pythons = load_script("claimed_pythons")


def test_the_claimed_versions_start_at_python_requires_and_leave_no_gap() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    oldest = config["options"]["python_requires"].removeprefix(">=")
    claimed = claimed_pythons.claimed_versions()
    minors = [int(version.split(".")[1]) for version in claimed]
    assert claimed[0] == oldest
    assert minors == list(range(minors[0], minors[0] + len(minors)))
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" in claimed  # the suite runs on a claimed Python


def test_only_python_3_classifiers_with_a_minor_version_are_read(tmp_path: Path) -> None:
    cfg = tmp_path / "setup.cfg"
    cfg.write_text("[metadata]\nclassifiers =\n    Programming Language :: Python :: 3\n"
                   "    Programming Language :: Python :: 3.12\n    Framework :: Celery\n"
                   "    Programming Language :: Python :: 3 :: Only\n    Programming Language :: Python :: 3.13\n")
    assert claimed_pythons.claimed_versions(cfg) == ["3.12", "3.13"]
