"""Users' type checkers see taskora's hints: the wheel ships ``py.typed``, and mypy, run on a user's file
against a virtualenv where that wheel is installed, reports a wrong type taken from our annotations.

(The editable install of this repository is a setuptools import hook, which mypy does not follow; what
users get from ``pip install taskora`` is the wheel, so that is what is checked.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT

SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "LICENSE", "taskora", "compat", "lua")

USER_FILE = '''\
from taskora import Taskora
from taskora.testing import TestRunner

app = Taskora()
runner = TestRunner(from_=app)
ran: int = runner.advance_time("1h")
wrong: str = runner.advance_time("1h")
handle = app.dispatch("task", {})
job_id: str = handle.id
'''


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)


def _installed_venv(tmp_path: Path) -> Path:
    """A bare virtualenv with only taskora's wheel installed (built from a copy of the sources)."""
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    built = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "wheels"),
                 str(source), cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-2000:]
    venv = tmp_path / "venv"
    assert _run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=tmp_path).returncode == 0
    [wheel] = (tmp_path / "wheels").glob("taskora-*.whl")
    installed = _run(sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                     "--no-deps", str(wheel), cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv


def test_mypy_sees_taskoras_hints_in_an_installed_wheel(tmp_path: Path) -> None:
    venv = _installed_venv(tmp_path)
    assert list(venv.glob("lib/python*/site-packages/taskora/py.typed"))
    (tmp_path / "user.py").write_text(USER_FILE)

    checked = _run(sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-executable",
                   str(venv / "bin" / "python"), "user.py", cwd=tmp_path)

    assert 'user.py:7: error: Incompatible types in assignment (expression has type "int", variable has ' \
           'type "str")' in checked.stdout, checked.stdout
    assert "Found 1 error in 1 file" in checked.stdout, checked.stdout  # the rest type-checks: no missing stubs
