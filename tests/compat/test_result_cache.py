# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Celery's backend cache of finished results (``result_cache_max``, ``backend._cache``) and ``ResultSet.backend``
(test_canvas.py's ``test_join_native_timeout_zero_returns_results_that_are_ready`` clears it between two joins)."""

from __future__ import annotations

import pytest
from taskora.compat import states
from taskora.compat.backends._cache import ResultCache
from taskora.compat.result import ResultSet

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def _app(make_celery, **settings):
    app = make_celery(**settings)

    @app.task(name="rc.add")
    def add(x, y):
        return x + y

    app.__taskora_app__.start(concurrency=2)
    return app, add


def test_the_cache_is_off_by_default_and_a_result_set_reads_through_the_apps_backend(make_celery):
    app, add = _app(make_celery)
    rs = ResultSet([add.delay(1, 1), add.delay(2, 2), add.delay(3, 3)])
    assert rs.backend is app.backend
    assert rs.join_native(timeout=20) == [2, 4, 6]
    assert app.backend.get_task_meta(rs.results[0].id)["result"] == 2
    assert len(app.backend._cache) == 0  # result_cache_max = -1: Celery keeps nothing
    rs.backend._cache.clear()
    assert rs.join_native(timeout=0, interval=30) == [2, 4, 6]


def test_with_result_cache_max_finished_metas_are_kept_and_a_write_drops_one(make_celery):
    app, add = _app(make_celery, result_cache_max=2)
    results = [add.delay(i, i) for i in range(3)]
    assert [r.get(timeout=20) for r in results] == [0, 2, 4]
    for result in results:
        app.backend.get_task_meta(result.id)
    assert len(app.backend._cache) == 2 and results[0].id not in app.backend._cache  # the oldest went first
    app.backend.store_result(results[2].id, 99, states.SUCCESS)
    assert results[2].id not in app.backend._cache
    assert app.backend.get_task_meta(results[2].id)["result"] == 99


def test_a_bad_result_cache_max_is_refused_naming_it():
    with pytest.raises(ValueError, match="result_cache_max .* got 'many'"):
        ResultCache("many")  # type: ignore[arg-type]
