"""The Celery metadata a publish stores is encoded without building a JSON encoder per call
(compat/app/_execute.py): the text must stay exactly ``json.dumps(value, default=_tagged)``'s."""

from __future__ import annotations

import datetime
import json
import threading

import pytest
from taskora.compat.app import _execute


@pytest.mark.parametrize("value", [
    {"correlation_id": "abc", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "q"}, "priority": 0},
    [1, 2.5, "é ☃", None, True, float("inf")],
    {"bytes": b"xy", "when": datetime.datetime(2020, 1, 1, 12, 30), "pair": (1, 2), "nested": [{"s": {3}}]},
    {1: "int key", "ünï": {"deep": [[]]}},
    "a plain string",
])  # fmt: skip
def test_meta_json_is_the_text_json_dumps_writes(value: object) -> None:
    assert _execute._meta_json(value) == json.dumps(value, default=_execute._tagged)
    assert _execute.meta_fields({"properties": value, "task": "t"}) == {
        "celery.properties": json.dumps(value, default=_execute._tagged), "celery.task": "t"}


def test_a_failed_encode_leaves_the_encoder_usable_in_its_thread_and_threads_do_not_share_it() -> None:
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        _execute._meta_json(looped)
    assert _execute._meta_json({"a": [1]}) == '{"a": [1]}'
    texts: list[str] = []
    workers = [threading.Thread(target=lambda n=n: texts.append(_execute._meta_json({"n": [n] * 50})))
               for n in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(texts) == sorted(json.dumps({"n": [n] * 50}) for n in range(8))
