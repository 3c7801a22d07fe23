"""The import rewriter (scripts/migrate_imports.py): exact output for every import form, and what it leaves alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .projects.harness import load_migrate_imports

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "migrate_imports.py"
EXAMPLES = ROOT / "examples"


mi = load_migrate_imports()


def rewrite(source: str) -> str:
    return mi.rewrite_source(source).text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("from celery import Celery\n", "from taskora.compat import Celery\n"),
        ("from celery import Celery, shared_task, chain\n", "from taskora.compat import Celery, shared_task, chain\n"),
        ("from celery.schedules import crontab\n", "from taskora.compat.schedules import crontab\n"),
        ("from celery.utils.log import get_task_logger\n", "from taskora.compat.utils.log import get_task_logger\n"),
        ("from celery import current_app as ca\n", "from taskora.compat import current_app as ca\n"),
        ("import celery\n", "import taskora.compat as celery\n"),
        ("import celery as c\n", "import taskora.compat as c\n"),
        ("import celery.result as r\n", "import taskora.compat.result as r\n"),
        ("import celery.schedules\n", "import taskora.compat.schedules, taskora.compat as celery\n"),
        ("import os, celery, sys\n", "import os, taskora.compat as celery, sys\n"),
        ("import celery; import os\n", "import taskora.compat as celery; import os\n"),
        ("x = 1; from celery import group\n", "x = 1; from taskora.compat import group\n"),
        ("if True: import celery\n", "if True: import taskora.compat as celery\n"),
    ],
)
def test_each_import_form_is_rewritten_exactly(before, after):
    assert rewrite(before) == after


@pytest.mark.parametrize(
    "source",
    [
        "from .celery import app as celery_app\n",
        "from . import celery\n",
        "from proj.celery import app\n",
        "import celery_app\n",
        "from celery_utils import helper\n",
        "import proj.celery\n",
        's = "from celery import Celery"\n',
        "# import celery\nx = 1\n",
        '"""Docs say: import celery.schedules"""\n',
        "def f(celery):\n    yield from celery.tasks()\n",
        "try:\n    pass\nexcept E as exc:\n    raise ValueError() from celery\n",
        "celery = make_app()\ncelery.conf.update(x=1)\n",
    ],
)
def test_everything_that_is_not_a_celery_import_is_left_byte_for_byte(source):
    result = mi.rewrite_source(source)
    assert result.text == source
    assert result.changes == 0


def test_multiline_parenthesised_import_keeps_comments_and_layout():
    source = "from celery import (  # the app\n    Celery,\n    shared_task,  # tasks\n)\n"
    assert rewrite(source) == source.replace("from celery", "from taskora.compat")


def test_backslash_continuation_and_nested_scopes():
    source = (
        "from \\\n    celery import group\n"
        "class A:\n    def f(self):\n        from celery import chain; import celery.app.task\n"
    )
    out = rewrite(source)
    assert "from \\\n    taskora.compat import group" in out
    assert "from taskora.compat import chain; import taskora.compat.app.task, taskora.compat as celery" in out


def test_string_naming_a_celery_module_is_reported_not_rewritten():
    source = "pytest_plugins = ('celery.contrib.pytest',)\nbeat_scheduler = 'celery.beat:PersistentScheduler'\n"
    result = mi.rewrite_source(source, filename="conftest.py")
    assert result.text == source
    assert result.notes == [
        "conftest.py:1: string 'celery.contrib.pytest' names a Celery module (not rewritten)",
        "conftest.py:2: string 'celery.beat:PersistentScheduler' names a Celery module (not rewritten)",
    ]


def test_rewriting_twice_changes_nothing_more():
    source = "import celery\nimport celery.schedules\nfrom celery import Celery\n"
    once = rewrite(source)
    assert mi.rewrite_source(once).changes == 0


def test_invalid_python_is_refused_naming_the_file():
    with pytest.raises(SyntaxError) as info:
        mi.rewrite_source("from celery import (\n", filename="proj/broken.py")
    assert info.value.filename == "proj/broken.py"


def test_file_keeps_its_encoding_and_crlf_line_endings(tmp_path):
    path = tmp_path / "legacy.py"
    path.write_bytes("# -*- coding: latin-1 -*-\r\nfrom celery import Celery\r\nname = 'caf\xe9'\r\n".encode("latin-1"))
    assert mi.rewrite_file(path).changes == 1
    assert path.read_bytes() == (
        "# -*- coding: latin-1 -*-\r\nfrom taskora.compat import Celery\r\nname = 'caf\xe9'\r\n".encode("latin-1")
    )


def _project(root: Path) -> Path:
    (root / "proj" / "__pycache__").mkdir(parents=True)
    (root / "proj" / "__init__.py").write_text("from .celery import app as celery_app\n")
    (root / "proj" / "celery.py").write_text("from celery import Celery\napp = Celery('proj')\n")
    (root / "proj" / "__pycache__" / "stale.pyc").write_bytes(b"\x00")
    (root / "README.txt").write_text("run celery -A proj worker\n")
    return root


def test_migrate_tree_copies_the_project_and_leaves_the_original_alone(tmp_path):
    source = _project(tmp_path / "src")
    results = mi.migrate_tree(source, tmp_path / "dst")
    migrated = (tmp_path / "dst" / "proj" / "celery.py").read_text()
    assert migrated == "from taskora.compat import Celery\napp = Celery('proj')\n"
    assert (tmp_path / "dst" / "proj" / "__init__.py").read_text() == "from .celery import app as celery_app\n"
    assert (tmp_path / "dst" / "README.txt").read_text() == "run celery -A proj worker\n"
    assert not (tmp_path / "dst" / "proj" / "__pycache__").exists()
    assert (source / "proj" / "celery.py").read_text().startswith("from celery import Celery")
    assert {str(p): r.changes for p, r in results.items()} == {"proj/celery.py": 1}


def test_migrate_tree_refuses_a_non_empty_target_and_a_missing_source(tmp_path):
    source = _project(tmp_path / "src")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="dst"):
        mi.migrate_tree(source, tmp_path / "dst")
    with pytest.raises(NotADirectoryError, match="nowhere"):
        mi.migrate_tree(tmp_path / "nowhere", tmp_path / "other")


def test_command_line_copy_in_place_and_diff(tmp_path):
    source = _project(tmp_path / "src")

    def run(*args):
        return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)

    diff = run("--diff", str(source))
    assert diff.returncode == 0
    assert "-from celery import Celery" in diff.stdout and "+from taskora.compat import Celery" in diff.stdout
    copied = run(str(source), str(tmp_path / "dst"))
    assert copied.returncode == 0, copied.stderr
    assert "1 import(s) rewritten in 1 file(s)" in copied.stdout
    in_place = run("--in-place", str(source))
    assert in_place.returncode == 0
    assert (source / "proj" / "celery.py").read_text().startswith("from taskora.compat import Celery")
    usage = run(str(source))
    assert usage.returncode == 2 and "TARGET folder or --in-place" in usage.stderr
    missing = run(str(tmp_path / "nowhere"), str(tmp_path / "x"))
    assert missing.returncode == 1 and "nowhere" in missing.stderr


def _celery_imports(text: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "celery"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == "celery":
            found.append(node.module)
    return found


@pytest.mark.parametrize("project", ["celery_project", "django_project"])
def test_example_projects_are_celery_code_and_migrate_completely(tmp_path, project):
    original = EXAMPLES / project
    originals = [p for p in mi.python_files(original) if _celery_imports(p.read_text())]
    assert len(originals) >= 2, "the example must stay written the Celery way"
    mi.migrate_tree(original, tmp_path / project)
    for path in mi.python_files(tmp_path / project):
        text = path.read_text()
        assert _celery_imports(text) == [], path
        compile(text, str(path), "exec")


def test_imports_taskora_compat_lacks_are_reported_by_the_command(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "conftest.py").write_text(
        "from celery import Celery, shared_task, no_such_name\n"
        "from celery.schedules import crontab\n"
        "from celery.contrib.abortable import AbortableTask\n"
    )
    done = subprocess.run([sys.executable, str(SCRIPT), str(source), str(tmp_path / "dst")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "note: conftest.py:1: taskora.compat has no no_such_name",
        "note: conftest.py:3: taskora.compat.contrib.abortable does not exist in this taskora version",
    ]
    assert mi.unsupported(mi.rewrite_source("from celery.schedules import crontab\n").targets) == []


@pytest.fixture(scope="module")
def celery_sdist(tmp_path_factory):
    """Celery 5.7.0's sdist (env TASKORA_CELERY_SDIST, the harness cache, or ``pip download``)."""
    from conformance.sdist import SdistUnavailable
    from conformance.sdist import celery_sdist as fetch

    try:
        return fetch("5.7.0")
    except SdistUnavailable as exc:
        pytest.skip(f"no network and no local copy of the celery 5.7.0 sdist: {exc}")


@pytest.mark.parametrize("tree", ["examples", "t/integration"])
def test_celerys_own_trees_migrate_completely_with_notes_for_what_compat_lacks(celery_sdist, tmp_path, tree):
    from conformance.sdist import extract

    original = extract(celery_sdist, tree, tmp_path / "sdist")
    results = mi.migrate_tree(original, tmp_path / "migrated", check=True)
    copied = sorted(p.relative_to(tmp_path / "migrated") for p in mi.python_files(tmp_path / "migrated"))
    assert copied == sorted(p.relative_to(original) for p in mi.python_files(original))
    for path in mi.python_files(tmp_path / "migrated"):
        text = path.read_text()
        assert _celery_imports(text) == [], path
        compile(text, str(path), "exec")
    assert sum(r.changes for r in results.values()) > 20
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left


def test_names_that_cannot_be_resolved_become_notes_not_crashes():
    targets = mi.rewrite_source(
        "from celery.canvas import NoSuchVisitor, Signature\n"  # a name inside a plain module
        "from celery.schedules import solar, crontab\n"  # a lazy attribute that raises ImportError
        "import celery.no_such_module as m\n"
    ).targets
    problems = mi.unsupported(targets)
    assert problems[0] == "1: taskora.compat.canvas has no NoSuchVisitor"
    assert problems[1].startswith("2: taskora.compat.schedules has no solar (") and "ephem" in problems[1]
    assert problems[2] == "3: taskora.compat.no_such_module does not exist in this taskora version"
    assert len(problems) == 3


def test_a_failing_copy_writes_nothing_and_in_place_writes_nothing(tmp_path):
    source = _project(tmp_path / "src")
    (source / "zz_broken.py").write_text("from celery import (\n")
    with pytest.raises(SyntaxError) as info:
        mi.migrate_tree(source, tmp_path / "out" / "dst")
    assert info.value.filename == str(source / "zz_broken.py")
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(SyntaxError):
        mi.migrate_tree(source)
    assert (source / "proj" / "celery.py").read_text().startswith("from celery import Celery")
