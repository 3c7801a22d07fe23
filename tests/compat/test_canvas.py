"""Celery canvas on the native workflow engine (in-process worker on the in-memory engine)."""

from __future__ import annotations

import json

import pytest
from taskora.compat.canvas import Signature, chain, chord, group

from .canvas_proj import add, app, fail, mul, tsum


@pytest.fixture(scope="module")
def worker():
    native = app.__taskora_app__
    native.start()
    yield native
    native.close(timeout=5)


def test_signature_is_a_json_round_tripping_dict() -> None:
    sig = add.s(2, 2).set(countdown=1)
    assert set(sig) == {"task", "args", "kwargs", "options", "subtask_type", "immutable"}
    again = Signature.from_dict(json.loads(json.dumps(sig)))
    assert again == sig and again.args == (2, 2) and again.options == {"countdown": 1}
    assert type(Signature.from_dict(json.loads(json.dumps(chain(add.s(1, 2), mul.s(3)))))).__name__ == "_chain"


def test_partial_args_are_prepended_and_immutable_ignores_them() -> None:
    assert add.s(2).clone((3,)).args == (3, 2)
    assert add.si(2, 2).clone((3,)).args == (2, 2)


def test_or_combinations() -> None:
    assert type(add.s(1, 1) | mul.s(2)).__name__ == "_chain"
    assert isinstance(group(add.s(1, 1), add.s(2, 2)) | tsum.s(), chord)
    assert isinstance(chain(group(add.s(1, 1), add.s(2, 2)), tsum.s()), chord)
    assert type(chain(group(add.s(1, 1)), tsum.s())).__name__ == "_chain"  # a group of one is its task (Celery)
    g = group(add.s(1, 1))
    assert g | group() is g


def test_chain_results(worker) -> None:
    assert (add.s(2, 2) | add.s(4) | mul.s(8)).apply_async().get(timeout=10) == 64
    res = (add.s(1, 1) | add.si(10, 10) | add.s(1)).delay()
    assert res.get(timeout=10) == 21
    assert res.parent.get(timeout=5) == 20 and res.parent.parent.get(timeout=5) == 2


def test_chord_and_group(worker) -> None:
    assert chord([add.s(i, i) for i in range(10)])(tsum.s()).get(timeout=10) == 90
    assert chord([add.s(1, 1), add.s(2, 2)], tsum.s()).delay().get(timeout=10) == 6
    g = group(add.s(i, i) for i in range(5)).apply_async()
    assert g.get(timeout=10) == [0, 2, 4, 6, 8]
    assert g.completed_count() == 5 and g.successful() and g.ready()


def test_a_failing_step_fails_the_rest_with_the_original_error(worker) -> None:
    res = (add.s(1, 1) | fail.s() | mul.s(2)).delay()
    with pytest.raises(KeyError):
        res.get(timeout=10)


def test_a_failing_chord_header_gives_the_body_a_chord_error(worker) -> None:
    res = chord([add.s(1, 1), fail.s()], tsum.s()).delay()
    with pytest.raises(Exception) as info:
        res.get(timeout=10, follow_parents=False)
    assert type(info.value).__name__ == "ChordError"
    with pytest.raises(Exception) as info:  # Celery's get() follows the body's parent, the header, first
        res.get(timeout=10)
    assert type(info.value).__name__ == "KeyError"  # the failed header task's own error


def test_eager_apply() -> None:
    assert (add.s(2, 2) | mul.s(3)).apply().get() == 12
    assert chord([add.s(1, 1), add.s(2, 2)], tsum.s()).apply().get() == 6


def test_chunks_map_starmap_are_immutable_json_round_tripping_signatures() -> None:
    from taskora.compat.canvas import chunks, xmap, xstarmap

    ch = add.chunks([(1, 1), (2, 2), (3, 3)], 2)
    assert isinstance(ch, chunks) and ch.immutable and ch.subtask_type == "chunks"
    again = Signature.from_dict(json.loads(json.dumps(ch)))
    assert isinstance(again, chunks) and json.dumps(again) == json.dumps(ch)
    assert [len(m.kwargs["it"]) for m in again.group().tasks] == [2, 1]
    m = tsum.map([[1], [2]])
    assert isinstance(m, xmap) and m.task == "celery.map" and m.immutable
    assert isinstance(Signature.from_dict(json.loads(json.dumps(m))), xmap)
    assert isinstance(Signature.from_dict(json.loads(json.dumps(add.starmap([(1, 2)])))), xstarmap)
    with pytest.raises(ValueError, match="chunk size"):
        add.chunks([(1, 1)], 0)
    with pytest.raises(TypeError, match="iterable"):
        tsum.map(5)


def test_eager_execution_of_every_canvas_type() -> None:
    assert add.s(2, 2).apply().get() == 4
    assert (add.s(1, 1) | add.si(10, 10) | add.s(1)).apply().get() == 21
    assert group(add.s(i, i) for i in range(3)).apply().get() == [0, 2, 4]
    assert chord([add.s(i, i) for i in range(10)], tsum.s()).apply().get() == 90
    assert add.chunks(zip(range(4), range(4), strict=True), 3).apply().get() == [[0, 2, 4], [6]]
    assert tsum.map([[1, 2], [3]]).apply().get() == [3, 3]
    assert add.starmap([(1, 2), (3, 4)]).apply().get() == [3, 7]


def test_group_skew_link_and_link_error_placement() -> None:
    g = group(add.s(1, 1), add.s(2, 2), add.s(3, 3)).skew(start=1, stop=2)
    assert [t.options["countdown"] for t in g.tasks] == [1.0, 2.0, 2.0]
    g.link(tsum.s())
    assert g.tasks[0].options["link"][0].immutable and "link" not in g.tasks[1].options
    g.link_error(fail.s())
    assert all(len(t.options["link_error"]) == 1 for t in g.tasks)
    with pytest.raises(TypeError, match="use a chord"):
        g.apply_async(link=tsum.s())
    c = chord([add.s(1, 1)], tsum.s())
    c.link_error(fail.s())
    assert c.body.options["link_error"] == [fail.s()]
