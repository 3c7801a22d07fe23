"""``@app.task(pydantic=True)``: model arguments arrive as models, a returned model comes back as its JSON
dump, and models passed by the caller travel as dumps (Celery 5.7), on a real worker and eagerly."""

from __future__ import annotations

from typing import Optional

import pytest
from taskora.compat import Celery
from taskora.compat.contrib.testing.worker import start_worker
from taskora.compat.exceptions import EncodeError

pydantic = pytest.importorskip("pydantic")


class Point(pydantic.BaseModel):
    x: int
    y: int


class Total(pydantic.BaseModel):
    total: int


class NotSent(pydantic.BaseModel):
    secret: int


@pytest.fixture(params=["redis", "memory"])
def app(request):
    broker = request.getfixturevalue("redis_url") if request.param == "redis" else "memory://"
    app = Celery("pyd", broker=broker)

    @app.task(pydantic=True, name="pyd.add")
    def add(point: Point, scale: Optional[Point] = None) -> Total:
        assert isinstance(point, Point) and (scale is None or isinstance(scale, Point))
        return Total(total=(point.x + point.y) * (scale.x if scale else 1))

    @app.task(pydantic=True, bind=True, name="pyd.bound")
    def bound(self, point: Point) -> Total:  # string annotations at run time (__future__), as in Celery's suite
        return Total(total=point.x * point.y + self.request.retries)

    @app.task(name="pyd.plain")
    def plain(point):
        return point

    yield app
    app.close()


def test_a_worker_rebuilds_model_arguments_and_dumps_the_returned_model(app):
    with start_worker(app, pool="threads", perform_ping_check=False):
        assert app.tasks["pyd.add"].delay({"x": 1, "y": 2}).get(timeout=10) == {"total": 3}
        assert app.tasks["pyd.add"].delay(Point(x=2, y=2), scale=Point(x=3, y=0)).get(timeout=10) == {"total": 12}
        assert app.tasks["pyd.add"].s(Point(x=1, y=1)).delay().get(timeout=10) == {"total": 2}
        assert app.tasks["pyd.bound"].apply_async(kwargs={"point": Point(x=3, y=4)}).get(timeout=10) == {"total": 12}


def test_eager_calls_validate_and_dump_the_same_way(app):
    assert app.tasks["pyd.add"].apply(args=({"x": 5, "y": 5},)).get() == {"total": 10}
    assert app.tasks["pyd.bound"].apply(args=({"x": 2, "y": 3},)).get() == {"total": 6}
    with pytest.raises(pydantic.ValidationError):
        app.tasks["pyd.add"].apply(args=({"x": "not a number", "y": 1},), throw=True).get()


def test_models_are_dumped_only_for_parameters_the_task_rebuilds(app):
    dump = app.tasks["pyd.add"]._dump_pydantic_arguments
    args, kwargs = dump((Point(x=1, y=2),), {"scale": None})
    assert args == ({"x": 1, "y": 2},) and kwargs == {"scale": None}
    other = (NotSent(secret=1),)  # a model of another class is left to the serializer
    assert dump(other, {})[0] is other
    assert app.tasks["pyd.plain"]._dump_pydantic_arguments is None
    with pytest.raises(EncodeError):  # without pydantic=True a model is not JSON, as in Celery
        app.tasks["pyd.plain"].delay(Point(x=1, y=1))
