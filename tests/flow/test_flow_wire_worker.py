"""The TypeScript recordings of debounce (16) and throttle (17), worker side: the keyspace a TypeScript
producer left ('dispatched' snapshot) is run by a Python worker, which must leave Redis as the TypeScript
worker did ('after'), ignoring what the recordings mark volatile. (Recordings 18 and 19 are run worker side
by tests/flow/test_flow_wire.py and tests/flow/test_flow_claim_wire.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from taskora import Taskora
from taskora.redis import redis_adapter
from tests.interop.recording import dump, load, restore
from tests.waiting import wait_until

from .test_flow_claim_wire import NOT_COMPARED, assert_same

#: The marker zset is a wake-up signal, not state: what is left in it depends on whether each slot was blocked
#: when the worker stopped (a stopping Python worker wakes its blocked slots with ``wake:<n>`` members, which
#: the next claimer consumes), so it is left out along with the keys the flow-claim wire tests leave out.
IGNORED = (*NOT_COMPARED, ":marker")


def same_after(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    def kept(keyspace: dict[str, Any]) -> dict[str, Any]:
        return {key: entry for key, entry in keyspace.items() if not key.endswith(":marker")}

    assert_same(kept(ours), kept(theirs))


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def worker_app(redis_url: str) -> Iterator[Any]:
    apps: list[Taskora] = []

    def make(prefix: str, task: str, runs: list[Any]) -> Taskora:
        app = Taskora(redis_adapter(redis_url, prefix=prefix))
        app.task(task, lambda data: runs.append(data) or data["v"])  # as the recorded handlers
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close(timeout=5)


@pytest.mark.parametrize(("name", "prefix", "task"), [("16-debounce", "conf16", "deb"),
                                                      ("17-throttle", "conf17", "thr")])
def test_a_typescript_flow_control_state_runs_on_python_as_on_typescript(
        worker_app: Any, client: redis.Redis, name: str, prefix: str, task: str) -> None:  # fmt: skip
    rec = load(name)
    restore(client, rec.snapshot("dispatched"))
    expected = rec.output("runs")
    runs: list[Any] = []
    app = worker_app(prefix, task, runs)
    app.start()

    completed = f"taskora:{prefix}:{{{task}}}:completed"
    wait_until(lambda: client.zcard(completed) == len(expected), 10, f"the {len(expected)} recorded runs")
    app.close(timeout=5)
    gone = set(rec.after)  # a key TypeScript's run saw lapse (its TTL) must lapse here too, in its time
    wait_until(lambda: not {k for k, v in dump(client, prefix).items() if v["pttl"] > 0
                            and not any(part in k for part in IGNORED)} - gone, 5,
               "keys with a TTL that the recording saw expire")

    assert sorted(runs, key=str) == sorted(expected, key=str)  # debounce: only the last; throttle: the two admitted
    same_after(dump(client, prefix), rec.after)
