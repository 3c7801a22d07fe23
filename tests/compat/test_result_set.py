"""``ResultSet`` members named by id, as Celery's ``ResultSet.remove("<id>")`` takes them."""

from __future__ import annotations

from taskora.compat import Celery
from taskora.compat.result import ResultSet


def test_a_member_given_by_its_id_is_removed_with_or_without_an_app() -> None:
    app = Celery("rs", broker="memory://")
    try:
        with_app = app.ResultSet([app.AsyncResult("a"), app.AsyncResult("b")])
        with_app.remove("a")
        assert [r.id for r in with_app.results] == ["b"]
        without = ResultSet([app.AsyncResult("a"), app.AsyncResult("b")])  # its app: its first member's
        without.remove("b")
        assert [r.id for r in without.results] == ["a"] and without.app is app
    finally:
        app.close()
