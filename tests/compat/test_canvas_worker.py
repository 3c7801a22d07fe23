"""Celery canvas through a real ``taskora worker -A tests.compat.canvas_proj_worker -P threads -c 4``
subprocess on the session redis-server: every canvas form, callbacks/errbacks, saved groups.

Pins celery-surface §4 and §15.1-3, 13, 14.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from ..processes import kill_process_group

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def proj(redis_server, tmp_path_factory):
    """The project module (client side) with one worker subprocess running it."""
    url = redis_server.url
    redis.Redis.from_url(url).flushall()
    os.environ["CANVAS_BROKER_URL"] = url
    sys.modules.pop("tests.compat.canvas_proj_worker", None)
    module = importlib.import_module("tests.compat.canvas_proj_worker")
    log = tmp_path_factory.mktemp("canvas") / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "taskora", "worker", "-A", "tests.compat.canvas_proj_worker",
                                 "-P", "threads", "-c", "4", "-l", "info"], cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                start_new_session=True)  # fmt: skip
    try:
        assert module.add.delay(1, 1).get(timeout=30) == 2, log.read_text()
        yield module
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            kill_process_group(proc, 5)
        module.app.close()
        os.environ.pop("CANVAS_BROKER_URL", None)


def seen(proj, kind: str, count: int = 1, timeout: float = 15.0) -> list[dict]:
    """Entries of ``kind`` recorded by callbacks in the worker, once ``count`` of them arrived."""
    client = redis.Redis.from_url(proj.BROKER)
    deadline = time.monotonic() + timeout
    while True:
        entries = [json.loads(e) for e in client.lrange(proj.SEEN, 0, -1)]
        hits = [e for e in entries if e["kind"] == kind]
        if len(hits) >= count:
            return hits
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(hits)} {kind} entries after {timeout}s: {entries}")
        time.sleep(0.05)


@pytest.fixture
def clean(proj):
    redis.Redis.from_url(proj.BROKER).delete(proj.SEEN)
    return proj


def test_the_three_numeric_checks(proj) -> None:
    from taskora.compat import chord

    add, mul, tsum = proj.add, proj.mul, proj.tsum
    assert (add.s(2, 2) | add.s(4) | mul.s(8)).apply_async().get(timeout=20) == 64
    res = (add.s(1, 1) | add.si(10, 10) | add.s(1)).delay()
    assert res.get(timeout=20) == 21
    assert res.parent.get(timeout=5) == 20 and res.parent.parent.get(timeout=5) == 2
    assert chord([add.s(i, i) for i in range(10)])(tsum.s()).get(timeout=20) == 90


def test_chord_forms_and_pipe_upgrades(proj) -> None:
    from taskora.compat import chain, chord, group

    add, mul, tsum = proj.add, proj.mul, proj.tsum
    res = chord([add.s(1, 1), add.s(2, 2)], tsum.s()).delay()
    assert res.get(timeout=20) == 6 and res.parent.get(timeout=5) == [2, 4]
    assert (group(add.s(1, 1), add.s(2, 2)) | tsum.s()).delay().get(timeout=20) == 6
    upgraded = chain(group(add.s(1, 1), add.s(2, 2)), tsum.s(), mul.s(10))
    assert isinstance(upgraded, chord) and upgraded.delay().get(timeout=20) == 60
    assert (chord([add.s(1, 1), add.s(2, 2)], tsum.s()) | mul.s(3)).delay().get(timeout=20) == 18
    assert (group(add.s(1, 1), add.s(2, 2)) | group(tsum.s(), tsum.s())).delay().get(timeout=20) == [6, 6]
    assert (add.s(1, 1) | group(add.s(10), add.s(20))).delay().get(timeout=20) == [12, 22]
    assert chord([], tsum.s()).delay().get(timeout=20) == 0  # an empty header calls the body with []


def test_group_result(proj) -> None:
    from taskora.compat import group

    add, fail = proj.add, proj.fail
    g = group(add.s(i, i) for i in range(6)).apply_async()
    assert g.get(timeout=20) == [0, 2, 4, 6, 8, 10] and g.join(timeout=5) == [0, 2, 4, 6, 8, 10]
    assert g.ready() and g.successful() and not g.failed() and not g.waiting() and g.completed_count() == 6
    assert [r.id for r in g.results] == [r.id for r in g]
    mixed = group(add.s(1, 1), fail.s(), add.s(2, 2)).apply_async()
    with pytest.raises(KeyError):
        mixed.get(timeout=20)
    assert mixed.join(timeout=20, propagate=False)[0] == 2
    assert mixed.failed() and not mixed.successful() and mixed.completed_count() == 2


def test_group_result_save_and_restore(proj) -> None:
    from taskora.compat import group
    from taskora.compat.result import GroupResult

    g = group(proj.add.s(i, 1) for i in range(4)).apply_async()
    g.save()
    again = GroupResult.restore(g.id, app=proj.app)
    assert again.id == g.id and [r.id for r in again.results] == [r.id for r in g.results]
    assert again.get(timeout=20) == [1, 2, 3, 4]
    again.delete()
    assert GroupResult.restore(g.id, app=proj.app) is None
    assert GroupResult.restore("never-saved", app=proj.app) is None


def test_chunks_map_and_starmap(proj) -> None:
    add, tsum = proj.add, proj.tsum
    res = add.chunks(zip(range(10), range(10), strict=True), 3).apply_async()
    assert res.get(timeout=20) == [[0, 2, 4], [6, 8, 10], [12, 14, 16], [18]]
    assert len(res.results) == 4  # one task (one workflow node) per chunk
    skewed = add.chunks([(1, 1), (2, 2)], 1).group().skew(start=0, step=0.1)
    assert [t.options["countdown"] for t in skewed.tasks] == [0.0, 0.1]
    assert skewed.apply_async().get(timeout=20) == [[2], [4]]
    mapped = tsum.map([[1, 2], [3, 4], [5]]).delay()
    assert mapped.get(timeout=20) == [3, 7, 5] and mapped.name == "celery.map"
    assert add.starmap([(1, 2), (3, 4)]).apply_async().get(timeout=20) == [3, 7]


def test_a_failing_chain_step_fails_the_rest_and_runs_the_chain_errback(clean) -> None:
    from taskora.compat import chain

    proj = clean
    res = chain(proj.add.s(1, 1), proj.fail.s(), proj.mul.s(2)).on_error(proj.on_error.s()).delay()
    with pytest.raises(KeyError):
        res.get(timeout=20)
    with pytest.raises(KeyError):
        res.parent.get(timeout=5)
    (hit,) = seen(proj, "errback-new")
    assert hit["id"] == res.parent.id and hit["exc"] == "KeyError" and hit["pid"] != os.getpid()


def test_links_and_errbacks(clean) -> None:
    proj = clean
    from taskora.compat import chain

    proj.add.apply_async((2, 2), link=proj.record.s("plain"))
    chain(proj.add.s(1, 1), proj.mul.s(3)).apply_async(link=proj.record.s("chain"))
    links = {e["label"]: e["value"] for e in seen(proj, "link", 2)}
    assert links == {"plain": 4, "chain": 6}
    failed = proj.fail.apply_async(link_error=proj.on_error.s())
    (new,) = seen(proj, "errback-new")
    assert new["id"] == failed.id and new["exc"] == "KeyError" and new["pid"] != os.getpid()
    failed_old = proj.fail.apply_async(link_error=proj.on_error_old.s())
    (old,) = seen(proj, "errback-old")
    assert old["id"] == failed_old.id


def test_a_failing_chord_header_gives_the_body_a_chord_error_and_fires_its_errbacks(clean) -> None:
    from taskora.compat import chord
    from taskora.compat.exceptions import ChordError

    proj = clean
    body = proj.tsum.s().on_error(proj.on_error.s()).on_error(proj.on_error_old.s())
    res = chord([proj.add.s(1, 1), proj.fail.s()], body).delay()
    with pytest.raises(ChordError) as info:  # the body's own error (by default get() raises the header's)
        res.get(timeout=20, follow_parents=False)
    assert "KeyError" in str(info.value)
    (new,) = seen(proj, "errback-new")
    assert new["id"] == res.id and new["exc"] == "ChordError" and new["pid"] != os.getpid()
    (old,) = seen(proj, "errback-old")
    assert old["id"] == res.id


def test_every_failing_chord_header_member_runs_its_errbacks_and_the_body_errs_once(clean) -> None:
    from taskora.compat import chain, chord
    from taskora.compat.exceptions import ChordError

    proj = clean
    # the second member fails three steps later, long after the first: it still runs, and its errback
    late = chain(proj.add.s(1, 1), proj.add.s(1), proj.add.s(1), proj.fail.s().on_error(proj.on_error.s()))
    first = proj.fail.s().on_error(proj.on_error.s())
    res = chord([first, proj.add.s(1, 1), late], proj.tsum.s().on_error(proj.on_error.s())).delay()
    with pytest.raises(ChordError):
        res.get(timeout=20, follow_parents=False)
    members = res.parent.results
    assert members[1].get(timeout=10) == 2  # the sibling ran to its end
    hits = seen(proj, "errback-new", 3)
    assert sorted(h["id"] for h in hits) == sorted([members[0].id, members[2].id, res.id])
    assert {h["id"]: h["exc"] for h in hits}[res.id] == "ChordError"


def test_a_chain_result_is_looked_up_soon_after_its_last_task_is_dispatched(proj) -> None:
    from taskora.compat import chain

    # The last task's id is unknown to the store until the tasks before it end; get() polls for it, with
    # pauses that start small (a flat interval made every chain get() last that interval more)
    started = time.monotonic()
    result = chain(proj.add.s(1, 1), proj.add.s(2), proj.add.s(3))()
    assert result.get(timeout=30, interval=10) == 7
    assert time.monotonic() - started < 5, "get() slept a whole interval before looking the last task up again"
