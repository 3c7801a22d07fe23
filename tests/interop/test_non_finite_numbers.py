"""NaN and ±Infinity are never written as the bare JSON tokens a TypeScript reader cannot parse: a
payload holding one is refused with an error naming where it is; older stored ones still load."""

from __future__ import annotations

import pytest

from taskora import JobFailedError, SerializationError, Taskora
from taskora.serialization import JsonSerializer


def test_dispatching_nan_is_refused_naming_its_path_and_writes_nothing(app: Taskora) -> None:
    task = app.task("t", lambda d: d)

    with pytest.raises(SerializationError, match=r"\$\['rows'\]\[1\]\['score'\] is nan"):
        task.dispatch({"rows": [{"score": 1.0}, {"score": float("nan")}]})
    assert app.adapter.client.keys("*") == []


def test_a_handler_returning_infinity_fails_its_job_with_the_path(app: Taskora) -> None:
    task = app.task("t", lambda d: {"ratio": float("inf")})
    app.start()

    with pytest.raises(JobFailedError, match=r"\$\['ratio'\] is inf"):
        task.dispatch(None).result(timeout=10)


def test_finite_floats_stay_plain_and_old_non_finite_tokens_still_load() -> None:
    serializer = JsonSerializer()
    assert serializer.dumps({"x": 1.5, "y": -0.0}) == '{"x":1.5,"y":-0.0}'
    loaded = serializer.loads('{"x": NaN, "y": -Infinity}')
    assert loaded["x"] != loaded["x"] and loaded["y"] == float("-inf")
