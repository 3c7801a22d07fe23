# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Canvas shapes from Celery's test_canvas.py that taskora.compat got wrong (issue #14), on a real worker."""

from __future__ import annotations

import queue

import pytest
from taskora.compat import chain, chord, group

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


@pytest.fixture
def running(make_celery):
    app = make_celery()

    @app.task(name="cs.add")
    def add(x, y=0):
        return x + y

    @app.task(name="cs.tsum")
    def tsum(values):
        return sum(values)

    @app.task(name="cs.ids", bind=True)
    def ids(self, i):
        return [self.request.root_id, self.request.parent_id, i]

    app.__taskora_app__.start(concurrency=2)
    return app, add, tsum


def test_a_group_of_one_chain_ending_in_a_group_returns_the_inner_group_result(running):
    _, add, _ = running
    result = group(add.s(1, 2) | group(add.s(1), add.s(2)))()
    assert result.get(timeout=20) == [4, 5]


def test_a_chord_header_may_be_a_chain_or_a_chord(running):
    _, add, tsum = running
    assert chord(chain([add.s(1, 1)]), tsum.s())().get(timeout=20) == 2
    assert chord(chord([add.s(1, 1), add.s(2, 2)], tsum.s()), tsum.s())().get(timeout=20) == 6


def test_a_chord_header_may_list_tasks_themselves(running):
    _, add, tsum = running
    inner = chord([tsum, tsum], tsum.s() | add.s(32))
    assert chord([add.s(0, 1)], inner)().get(timeout=20) == 34


def test_empty_groups_and_chains_in_a_chain_are_skipped(running):
    _, add, tsum = running
    assert chain(group(add.s(2, 2), add.s(4, 4)), group(), group())().get(timeout=20) == [4, 8]
    assert chain(group(), add.s(10)).apply_async((5,)).get(timeout=20) == 15
    assert chain(chain(), add.s(10)).apply_async((5,)).get(timeout=20) == 15


def test_chain_steps_name_the_step_before_as_parent_and_the_first_as_root(running):
    app, _, _ = running
    ids = app.tasks["cs.ids"]
    result = chain(ids.si(1), ids.si(2), group(ids.si(3), ids.si(4)), ids.si(5))()
    first, second = result.parent.parent.parent, result.parent.parent
    members = result.parent.results
    assert first.get(timeout=20) == [first.id, None, 1]
    assert second.get(timeout=20) == [first.id, first.id, 2]
    assert [m.get(timeout=20) for m in members] == [[first.id, second.id, 3], [first.id, second.id, 4]]
    assert result.get(timeout=20) == [first.id, members[-1].id, 5]


def test_a_callback_with_bytes_args_gets_bytes(make_celery):
    app = make_celery()
    got = queue.Queue()

    @app.task(name="cs.identity")
    def identity(x):
        return x

    @app.task(name="cs.echo")
    def echo(message):
        got.put(message)

    app.__taskora_app__.start(concurrency=2)
    members = group(identity.si(42), identity.si(1337))
    members.link(echo.si(b"\x00done"))
    assert members.delay().get(timeout=20) == [42, 1337]
    assert got.get(timeout=20) == b"\x00done"


def test_a_task_returning_a_result_stores_its_tuple_as_lists(make_celery):
    app = make_celery()

    @app.task(name="cs.add")
    def add(x, y=0):
        return x + y

    @app.task(name="cs.build")
    def build():
        return (add.s(1, 1) | group(add.s(3), add.s(4)))()

    app.__taskora_app__.start(concurrency=2)
    (group_id, _), members = build.delay().get(timeout=20)
    assert isinstance(members, list) and [type(m) for m in members] == [list, list]


def test_nested_groups_are_unrolled_and_empty_chains_left_out(running):
    _, add, _ = running
    nested = group(add.si(1, 10), group(add.si(1, 100), group(add.si(1, 1000), add.si(1, 2000))))
    assert nested().get(timeout=20) == [11, 101, 1001, 2001]
    result = group(chain(), add.s(1, 2), chain(), add.s(3, 4)).apply_async()
    assert len(result.results) == 2 and result.get(timeout=20) == [3, 7]


def test_a_signature_repeated_in_a_canvas_runs_once_per_occurrence(running):
    _, add, tsum = running
    inner = chord((group((add.si(1, 1),) * 3),), tsum.s())
    assert group((inner,)).delay().get(timeout=20) == [6]
    twice = group(add.si(2, 2), add.si(3, 3))
    first, second = twice.delay(), twice.delay()
    assert {r.id for r in first.results}.isdisjoint(r.id for r in second.results)
    assert first.get(timeout=20) == second.get(timeout=20) == [4, 6]


def test_a_chain_flattened_into_another_keeps_its_callbacks(make_celery):
    app = make_celery()
    got = queue.Queue()

    @app.task(name="cs.concat")
    def concat(x, y=""):
        return x + y

    @app.task(name="cs.echo")
    def echo(message):
        got.put(message)

    app.__taskora_app__.start(concurrency=2)
    inner = chain(concat.s("a"), concat.s("b"))
    inner.link(echo.si("inner done"))
    assert chain(inner, concat.s("c")).delay().get(timeout=20) == "abc"
    assert (inner | concat.s("d")).delay().get(timeout=20) == "abd"
    assert [got.get(timeout=20), got.get(timeout=20)] == ["inner done", "inner done"]


def test_every_failing_group_member_runs_its_errback(make_celery):
    app = make_celery()
    got = queue.Queue()

    @app.task(name="cs.fail")
    def fail(i):
        raise ValueError(f"member {i}")

    @app.task(name="cs.record")
    def record(i):
        got.put(i)

    app.__taskora_app__.start(concurrency=2)
    members = [fail.si(i) for i in range(6)]
    for i, member in enumerate(members):
        member.link_error(record.si(i))
    result = group(members)()
    with pytest.raises(ValueError):
        result.get(timeout=20)
    assert sorted(got.get(timeout=20) for _ in range(6)) == list(range(6))


def test_a_chord_whose_header_failed_raises_the_header_error_from_get(make_celery):
    app = make_celery()

    @app.task(name="cs.fail")
    def fail():
        raise KeyError("header member failed")

    @app.task(name="cs.identity")
    def identity(x):
        return x

    app.__taskora_app__.start(concurrency=2)
    with pytest.raises(KeyError, match="header member failed"):
        chord((fail.s(),), identity.s()).delay().get(timeout=20)


def test_a_chain_sent_in_one_chord_then_as_another_chords_body_gets_new_ids_and_keeps_its_errback(make_celery):
    # test_canvas.py's test_*_errback_called_by_chord_from_chain: one chain object is a chord's header member,
    # then another chord's body; the first send's task ids leaked into it, so the second chord's steps were
    # ignored as already known and its errback (on the body chain) never ran
    app = make_celery()
    echoed: queue.Queue[str] = queue.Queue()

    @app.task(name="cs.ident")
    def ident(x):
        return x

    @app.task(name="cs.fail")
    def fail(*args):
        raise KeyError("chain step failed")

    @app.task(name="cs.echo")
    def echo(message):
        echoed.put(message)

    app.__taskora_app__.start(concurrency=2)
    child = chain(ident.si(42), fail.s(), ident.si(42))
    first = chord((child,), ident.s())
    first.link_error(echo.si("first"))
    with pytest.raises(KeyError):
        first.delay().get(timeout=10)
    assert echoed.get(timeout=10) == "first"
    second = chord((ident.si(42),), child)
    second.link_error(echo.si("second"))
    with pytest.raises(KeyError):
        second.delay().get(timeout=10)
    assert echoed.get(timeout=10) == "second"


def test_canvases_run_inline_under_task_always_eager(make_celery):
    # no worker runs: before, chain(...).delay().get() waited for one forever
    app = make_celery()
    app.conf.task_always_eager = True

    @app.task(name="cs.add")
    def add(x, y=0):
        return x + y

    @app.task(name="cs.tsum")
    def tsum(values):
        return sum(values)

    assert chain(add.s(1, 1), add.s(2)).delay().get(timeout=5) == 4
    assert group(add.s(1, 1), add.s(2, 2)).delay().get(timeout=5) == [2, 4]
    assert chord([add.s(1, 1), add.s(2, 2)], tsum.s()).delay().get(timeout=5) == 6


def test_a_canvas_announces_each_task_the_caller_sends_with_the_publish_signals(running):
    # test_group_chains.py's test_large_group_pipeline counts before_task_publish per task the caller sends
    from taskora.compat.signals import after_task_publish, before_task_publish

    _, add, tsum = running
    before: list[tuple[str, str]] = []
    after: list[str] = []

    shapes: list[tuple[bool, bool]] = []

    def on_before(sender=None, body=None, headers=None, **kwargs):  # a receiver's error is logged, not raised
        before.append((sender, headers["id"]))
        # Celery's message body and headers: stamping receivers read stamped_headers and stamps
        shapes.append((bool(body[0]) and body[2]["callbacks"] is None, headers.get("stamped_headers") == []))

    def on_after(sender=None, headers=None, **kwargs):
        after.append(headers["id"])

    before_task_publish.connect(on_before, weak=False)
    after_task_publish.connect(on_after, weak=False)
    try:
        flow = chain(group(add.si(1, 1), add.si(2, 2)), tsum.s(), add.s(1))
        result = flow.apply_async()
        header = chord([add.s(3, 3), add.s(4, 4)], tsum.s()).apply_async()
        parallel = group(add.s(5, 5), add.s(1, 1) | add.s(1)).apply_async()
    finally:
        before_task_publish.disconnect(on_before)
        after_task_publish.disconnect(on_after)
    assert result.get(timeout=20) == 7 and header.get(timeout=20) == 14 and parallel.get(timeout=20) == [10, 3]
    first_ids = [r.id for r in result.parent.parent.results] + [r.id for r in header.parent.results]
    first_ids += [parallel.results[0].id, parallel.results[1].parent.id]
    assert [i for _, i in before] == first_ids == after  # only the tasks the caller sends, not later steps
    assert {name for name, _ in before} == {"cs.add"}
    assert shapes == [(True, True)] * len(before)


def test_a_chord_header_task_adds_tasks_to_its_chord_and_the_body_waits_for_them(make_celery):
    # test_canvas.py's test_add_to_chord: Task.add_to_chord from inside a header task
    app = make_celery()

    @app.task(name="cs.add")
    def add(x, y=0):
        return x + y

    @app.task(name="cs.add_to_all_to_chord", bind=True)
    def add_to_all_to_chord(self, nums, val):
        for num in nums:
            self.add_to_chord(add.s(num, val))
        return 0

    @app.task(name="cs.identity")
    def identity(x):
        return x

    app.__taskora_app__.start(concurrency=2)
    result = (group([add_to_all_to_chord.s([1, 2, 3], 4)]) | identity.s())()
    assert sorted(result.get(timeout=20)) == [0, 5, 6, 7]
    with pytest.raises(ValueError, match="not member of any chord"):
        add_to_all_to_chord.delay([1], 1).get(timeout=20)


def test_a_chord_header_task_adds_a_canvas_to_its_chord_and_the_body_gets_its_final_value(make_celery):
    # test_canvas.py's test_add_chord_to_chord: add_to_chord(group(...) | tsum.s()) from inside a header task
    app = make_celery()

    @app.task(name="cs.add")
    def add(x, y=0):
        return x + y

    @app.task(name="cs.tsum")
    def tsum(values):
        return sum(values)

    @app.task(name="cs.add_chord_to_chord", bind=True)
    def add_chord_to_chord(self, nums, val):
        added = self.add_to_chord(group([add.s(num, val) for num in nums]) | tsum.s())
        return added.id is not None and 0

    @app.task(name="cs.add_chain_to_chord", bind=True)
    def add_chain_to_chord(self, num):
        self.add_to_chord(add.s(num, 1) | add.s(10))
        return 0

    @app.task(name="cs.identity")
    def identity(x):
        return x

    app.__taskora_app__.start(concurrency=2)
    result = (group([add_chord_to_chord.s([1, 2, 3], 4)]) | identity.s())()
    assert sorted(result.get(timeout=20)) == [0, 5 + 6 + 7]
    chained = (group([add_chain_to_chord.s(1)]) | identity.s())()  # a chain is added the same way
    assert chained.get(timeout=20) == [0, 12]
