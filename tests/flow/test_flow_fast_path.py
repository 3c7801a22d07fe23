"""The fast path of flow-controlled dispatch (issue #16's throughput rows): what is cached or skipped for speed
must not change an outcome. A resent job id under debounce changes nothing, also when the key is free (the
script no longer checks the id up front there); a cached throttle config still checks every dispatch; a
dedup holder is matched against the blocking states the engine reads only when a holder exists."""

from __future__ import annotations

from typing import Any

import pytest

from taskora import ConfigurationError, Taskora


def _store(app: Taskora) -> Any:
    return app.adapter.raw_client()


def test_a_debounce_under_a_free_key_with_the_id_of_an_existing_job_changes_nothing(app: Taskora) -> None:
    task = app.task("reindex", lambda n: n)
    plain = task.dispatch(1, job_id="j1")
    again = task.dispatch(2, job_id="j1", debounce={"key": "doc", "delay": "1h"})

    assert (again.enqueued, again.id) == (False, plain.id)
    assert _store(app).exists(app.adapter.flow_key("reindex", "debounce", "doc")) == 0  # no key taken
    assert app.adapter.get_fields("reindex", "j1", ["state"])["state"] in (b"waiting", "waiting")


def test_a_debounce_with_the_id_of_an_existing_job_leaves_the_delayed_job_it_would_replace(app: Taskora) -> None:
    task = app.task("reindex", lambda n: n)
    first = task.dispatch(1, debounce={"key": "doc", "delay": "1h"})
    task.dispatch(2, job_id="j2")
    again = task.dispatch(3, job_id="j2", debounce={"key": "doc", "delay": "1h"})

    assert again.enqueued is False
    assert first.state() == "delayed"  # not replaced
    assert _store(app).get(app.adapter.flow_key("reindex", "debounce", "doc")) in (first.id.encode(), first.id)


def test_a_cached_throttle_config_still_checks_each_dispatch(app: Taskora) -> None:
    task = app.task("call_api", lambda n: n)
    assert task.dispatch(1, throttle={"key": "api", "max": 1, "window": "1h"}).enqueued
    assert not task.dispatch(2, throttle={"key": "api", "max": 1, "window": "1h"}).enqueued  # same config: cached
    assert task.dispatch(3, throttle={"key": "api", "max": 2, "window": "1h"}).enqueued  # a new max is read

    before = sorted(_store(app).keys("*"))
    bad_configs = [({"max": 0, "window": "1h"}, "throttle.max"), ({"max": 5, "window": "0s"}, "throttle.window"),
                   ({"max": True, "window": "1h"}, "throttle.max"), ({"max": 5, "window": "soon"}, "throttle.window")]
    for bad, named in bad_configs:
        with pytest.raises(ConfigurationError, match=rf"call_api\.dispatch: {named}"):
            task.dispatch(4, throttle={"key": "api", **bad})
    assert sorted(_store(app).keys("*")) == before


def test_a_dedup_holder_blocks_only_in_the_listed_states(app: Taskora) -> None:
    task = app.task("report", lambda n: n)
    first = task.dispatch(1, deduplicate={"key": "k", "while": ["delayed", "active"]}, delay="1h")

    waiting_only = task.dispatch(2, deduplicate={"key": "k", "while": ["waiting"]})
    delayed_too = task.dispatch(3, deduplicate={"key": "k", "while": ["waiting", "delayed"]})

    assert waiting_only.enqueued is True  # the holder is delayed, not waiting: the key passes to the new job
    assert first.state() == "delayed"
    assert (delayed_too.enqueued, delayed_too.existing_id) == (False, waiting_only.id)
