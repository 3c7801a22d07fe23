"""Celery's ``@app.task(pydantic=True)`` on the compat front, as Celery 5.5+ does it: arguments annotated with
a model arrive as that model, a returned model of the annotated class is dumped (``mode="json"`` plus
``pydantic_dump_kwargs``), ``pydantic_strict``/``pydantic_context`` reach ``model_validate``, and a caller's
model is sent as JSON. Run through a real ``taskora worker -A`` process, and eagerly."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pydantic
import pytest
from taskora.compat import Celery

from .celery_helpers import CeleryWorker, import_project

PROJECT = """
    from __future__ import annotations

    import os
    from typing import Optional

    import pydantic
    from taskora.compat import Celery

    app = Celery("pydproj", broker=os.environ["REDIS_URL"], backend=os.environ["REDIS_URL"])


    class Order(pydantic.BaseModel):
        sku: str
        qty: int


    class Receipt(pydantic.BaseModel):
        sku: str
        total: int
        note: Optional[str] = None


    class Tagged(pydantic.BaseModel):
        name: str

        @pydantic.field_validator("name")
        @classmethod
        def tag(cls, value, info):
            context = info.context or {}
            return f"{value}@{context.get('celery_task_name')}/{context.get('tenant')}"


    @app.task(pydantic=True, name="pydproj.price")
    def price(order: Order, unit: int, note: Optional[Order] = None) -> Receipt:
        assert isinstance(order, Order), type(order)
        return Receipt(sku=order.sku, total=order.qty * unit, note=None if note is None else note.sku)


    @app.task(pydantic=True, name="pydproj.unannotated_return")
    def unannotated_return(order: Order):
        return Receipt(sku=order.sku, total=0)


    @app.task(pydantic=True, pydantic_strict=True, name="pydproj.strict")
    def strict(order: Order) -> int:
        return order.qty


    @app.task(pydantic=True, pydantic_context={"tenant": "acme"}, name="pydproj.context")
    def context(tag: Tagged) -> str:
        return tag.name


    @app.task(pydantic=True, pydantic_dump_kwargs={"exclude_none": True}, name="pydproj.dump_kwargs")
    def dump_kwargs(order: Order) -> Receipt:
        return Receipt(sku=order.sku, total=order.qty)


    @app.task(pydantic=True, bind=True, name="pydproj.bound")
    def bound(self, order: Order) -> str:
        return f"{self.name}:{type(order).__name__}:{order.qty}"


    @app.task(name="pydproj.plain")
    def plain(order: Order) -> str:
        return type(order).__name__
"""


@pytest.fixture
def proj(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    module = import_project(tmp_path, "pydproj", PROJECT, redis_url, monkeypatch)
    yield module
    sys.modules.pop("pydproj", None)


@pytest.mark.redis_only
def test_pydantic_tasks_through_a_real_worker(proj: ModuleType, tmp_path: Path, redis_url: str) -> None:
    worker = CeleryWorker(tmp_path, "pydproj", redis_url, "pyd@test", "-P", "threads", "-c", "2")
    try:
        worker.wait_ready(proj.app)
        order = {"sku": "pen", "qty": 3}
        assert proj.price.delay(order, 5).get(timeout=20) == {"sku": "pen", "total": 15, "note": None}
        assert proj.price.delay(proj.Order(sku="ink", qty=2), unit=4, note=order).get(timeout=20) == {
            "sku": "ink", "total": 8, "note": "pen"}  # a caller's model is sent as JSON
        assert proj.unannotated_return.delay(order).get(timeout=20) is not None  # not dumped: no annotation
        assert proj.context.delay({"name": "t"}).get(timeout=20) == "t@pydproj.context/acme"
        assert proj.dump_kwargs.delay(order).get(timeout=20) == {"sku": "pen", "total": 3}
        assert proj.bound.delay(order).get(timeout=20) == "pydproj.bound:Order:3"
        assert proj.plain.delay(order).get(timeout=20) == "dict"  # without pydantic=True nothing converts
        refused = proj.strict.delay({"sku": "pen", "qty": "3"})  # strict: no str -> int coercion
        with pytest.raises(Exception):  # noqa: B017 - pydantic's error has no args to rebuild it from, as in Celery
            refused.get(timeout=20)
        assert refused.state == "FAILURE" and "ValidationError" in refused.traceback and "qty" in refused.traceback
        assert proj.strict.delay({"sku": "pen", "qty": 3}).get(timeout=20) == 3
    finally:
        worker.stop()


def test_eager_calls_validate_and_dump(proj: ModuleType) -> None:
    proj.app.conf.task_always_eager = True
    assert proj.price.delay({"sku": "a", "qty": "2"}, 3).get() == {"sku": "a", "total": 6, "note": None}
    assert proj.price({"sku": "b", "qty": 1}, 2) == {"sku": "b", "total": 2, "note": None}  # a direct call too
    with pytest.raises(pydantic.ValidationError, match="qty"):
        proj.price.delay({"sku": "a"}, 3).get()


def test_pydantic_true_without_pydantic_installed_is_improperly_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from taskora.compat.exceptions import ImproperlyConfigured

    monkeypatch.setitem(sys.modules, "pydantic", None)  # import pydantic -> ModuleNotFoundError
    app = Celery("nopyd", broker="memory://")
    with pytest.raises(ImproperlyConfigured, match="You need to install pydantic"):
        app.task(pydantic=True)(lambda order: order)
