"""The celery-batches recipe (migration_guide/celery-batches.md): its "after" module, as written on the page,
run by a ``taskora worker -A`` subprocess against redis-server; 200 clicks come back as two batches of 100."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .celery_helpers import CeleryWorker

pytestmark = pytest.mark.redis_only

PAGE = Path(__file__).resolve().parents[2] / "migration_guide" / "celery-batches.md"


def after_module() -> str:
    """The first ```py block after the page's "## After" heading."""
    text = PAGE.read_text(encoding="utf-8")
    after = text[text.index("## After"):]
    match = re.search(r"^```py\n(.*?)^```$", after, re.MULTILINE | re.DOTALL)
    assert match is not None, "the recipe page lost its 'after' module"
    return match.group(1)


@pytest.fixture
def project(tmp_path: Path, redis_url: str) -> Iterator[ModuleType]:
    source = after_module()
    assert 'broker="redis://localhost:6379/0"' in source
    (tmp_path / "proj_batches.py").write_text(source.replace("redis://localhost:6379/0", redis_url))
    sys.path.insert(0, str(tmp_path))
    try:
        module = importlib.import_module("proj_batches")
        yield module
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("proj_batches", None)
        module.app.close()


def test_the_recipe_batches_clicks_by_max_size_in_a_worker(project: ModuleType, tmp_path: Path,
                                                           redis_url: str) -> None:
    worker = CeleryWorker(tmp_path, "proj_batches", redis_url, "batches@test")
    try:
        worker.wait_ready(project.app)
        handles = [project.count_click.dispatch({"url": f"http://example.com/{n % 3}"}) for n in range(200)]
        assert handles[99].result(timeout=20) == 100
        assert handles[-1].result(timeout=20) == 100
    finally:
        worker.stop()
    assert project.count_click.peek_collect("clicks") == []
    assert project.native.adapter.counts("proj.tasks.count_click")["completed"] == 2
