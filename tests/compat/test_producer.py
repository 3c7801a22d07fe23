# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""``app.producer_or_acquire()``: publishes go out at once, or together at the end of ``batch()``."""

from __future__ import annotations

import kombu.exceptions
import pytest

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def test_publishes_through_a_producer_go_out_at_once(make_celery) -> None:
    app = make_celery()

    @app.task
    def add(x, y):
        return x + y

    with app.producer_or_acquire() as producer:
        result = add.apply_async((1, 2), producer=producer)
        assert app.__taskora_app__.inspect().find(result.id) is not None


def test_a_batch_sends_its_publishes_when_the_block_ends(make_celery) -> None:
    app = make_celery()

    @app.task
    def add(x, y):
        return x + y

    @app.task
    def mul(x, y):
        return x * y

    inspector = app.__taskora_app__.inspect()
    with app.producer_or_acquire() as producer:
        with producer.batch():
            results = [add.apply_async((i, i), producer=producer) for i in range(60)]
            results.append(mul.apply_async((6, 7), producer=producer))
            assert inspector.find(results[0].id) is None  # not sent yet
        assert all(inspector.find(r.id) is not None for r in results)

    worker = app.__taskora_app__.start()
    try:
        assert [r.get(timeout=20) for r in results] == [2 * i for i in range(60)] + [42]
    finally:
        worker.stop(timeout=5)


def test_an_argument_the_serializer_refuses_raises_encode_error_and_sends_nothing(make_celery) -> None:
    """As in Celery: kombu's EncodeError, raised by the call itself, at once or inside a batch."""
    app = make_celery()

    @app.task
    def echo(value):
        return value

    counts = app.__taskora_app__.adapter.counts
    with pytest.raises(kombu.exceptions.EncodeError, match="not JSON serializable"):
        echo.delay(object())
    with app.producer_or_acquire() as producer, producer.batch():
        sent = echo.apply_async((1,), producer=producer)
        with pytest.raises(kombu.exceptions.EncodeError, match="not JSON serializable"):
            echo.apply_async((object(),), producer=producer)
    assert counts(echo.name)["waiting"] == 1
    assert app.__taskora_app__.inspect().find(sent.id) is not None
