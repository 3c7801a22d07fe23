"""``app.autodiscover_tasks(packages, related_name, force=True)`` finds each package's task module as
Celery's loader does: a listed name that is not a package (``datetime.datetime``, a Django app config
class ``proj.BillingConfig``) is looked up one level higher, a missing task module is skipped, and a
missing package is raised."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from taskora.compat import Celery

MODULES = {
    "discproj/__init__.py": "class BillingConfig:\n    name = 'discproj'\n",
    "discproj/tasks.py": """
        from taskora.compat import shared_task

        @shared_task(name="discproj.tasks.charge")
        def charge(amount):
            return amount
    """,
    "discbroken/__init__.py": "",
    "discbroken/tasks.py": "import discbroken_missing_dependency\n",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Written and put on ``sys.path`` once: a shared task registers once per process."""
    root = tmp_path_factory.mktemp("discovery")
    for name, text in MODULES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    for name in [m for m in sys.modules if m.startswith(("discproj", "discbroken"))]:
        del sys.modules[name]


@pytest.fixture
def app():
    app = Celery("disc", broker="memory://")
    yield app
    app.close()


def test_a_name_that_is_no_package_is_looked_up_one_level_higher(project: Path, app: Celery) -> None:
    app.autodiscover_tasks(["discproj.BillingConfig", "datetime.datetime"], "tasks", force=True)
    assert "discproj.tasks.charge" in app.tasks
    assert "datetime.tasks" not in sys.modules


def test_a_package_without_the_related_module_is_skipped(project: Path, app: Celery) -> None:
    app.autodiscover_tasks(["discproj", "json"], "no_such_module", force=True)
    assert "discproj.no_such_module" not in sys.modules


def test_a_missing_package_raises_naming_its_missing_top(project: Path, app: Celery) -> None:
    with pytest.raises(ModuleNotFoundError) as caught:
        app.autodiscover_tasks(["discproj", "nonexistent.package.name"], "tasks", force=True)
    assert caught.value.name == "nonexistent"


def test_a_task_module_that_imports_a_missing_module_raises_that_error(project: Path, app: Celery) -> None:
    with pytest.raises(ModuleNotFoundError) as caught:
        app.autodiscover_tasks(["discbroken"], "tasks", force=True)
    assert caught.value.name == "discbroken_missing_dependency"
