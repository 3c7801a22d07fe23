"""``chain`` is a class (``isinstance(sig, (chain, group, chord))`` works) and nested canvases round-trip."""

from __future__ import annotations

import json

from taskora.compat import Celery, Signature, chain, chord, group


def _walk(sig, seen):
    assert isinstance(sig, Signature)
    seen.append(sig.task)
    if isinstance(sig, (chain, group, chord)):
        for task in sig.tasks:
            _walk(task, seen)
    if isinstance(sig, chord):
        _walk(sig.body, seen)


def test_nested_canvases_rebuild_from_json_and_support_isinstance():
    app = Celery("cv", broker="memory://")
    try:
        @app.task(name="cv.add")
        def add(x, y):
            return x + y

        nested = chain(add.s(1, 1), group(add.s(2), chord([add.s(3)], add.s(4))))
        assert isinstance(chain, type) and isinstance(nested, chain) and not isinstance(add.s(), chain)
        rebuilt = Signature.from_dict(json.loads(json.dumps(nested)), app=app)
        seen = []
        _walk(rebuilt, seen)
        assert seen.count("cv.add") == 4 and "celery.group" in seen
        assert type(chain(group(add.s(1), add.s(2)), add.s())).__name__ == "chord"
    finally:
        app.close()
