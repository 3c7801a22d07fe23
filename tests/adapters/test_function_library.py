"""The engine as one Redis function library (``taskora.lua.library``), and ``EVALSHA`` where a server will not run it.

On Redis 7 the scripts run by ``FCALL``: their helpers are defined once, when the library loads, instead of on
every call. What must hold: a transition runs the same way either way; a server that lost the library gets it
again without a transition lost; a server or a user that refuses functions gets every script by ``EVALSHA``; and
no call sees state another call left behind (the helpers' per-call state is set again at the start of each call).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from importlib import resources

import pytest
import redis
import taskora.lua as engine

from taskora import Taskora
from taskora.adapters.base import Completion
from taskora.adapters.redis import EnqueueRequest
from taskora.clock import VirtualClock
from taskora.redis import redis_adapter
from tests.adapters.engine_loss import forget_engine


def _enqueue(app: Taskora, task: str, job_id: str, delay_ms: int = 0) -> None:
    app.adapter.enqueue(EnqueueRequest(task, job_id, b'"in"', delay_ms=delay_ms))


def _one_job_by_sha(app: Taskora, task: str) -> None:
    """A job enqueued, claimed and completed through an app whose scripts go by EVALSHA."""
    app.task(task, lambda d: d)
    _enqueue(app, task, "j1")
    job = app.adapter.claim(task, "tok", 30_000).job
    assert job is not None and app.adapter.ack(job, b'"out"').job is None
    assert app.adapter.scripts.functions is False
    assert app.adapter.get_job(task, "j1")["state"] == "completed"


@pytest.fixture
def app(redis_url: str) -> Iterator[Taskora]:
    app = Taskora(redis_url)
    yield app
    app.close()


def test_on_redis_7_every_transition_runs_in_the_engines_function_library(app: Taskora, redis_url: str) -> None:
    app.task("lib", lambda d: d)
    _enqueue(app, "lib", "j1")
    job = app.adapter.claim("lib", "tok", 30_000).job
    assert job is not None and job.id == "j1"
    assert app.adapter.ack(job, b'"out"').job is None
    assert app.adapter.scripts.functions is True
    assert app.adapter.scripts.claim.command(["k"], [])[0] == "FCALL"
    server = redis.Redis.from_url(redis_url)
    (library,) = server.function_list(library=app.adapter.scripts.library_name)
    fields = dict(zip(library[::2], library[1::2], strict=True))
    assert len(fields[b"functions"]) == len(engine.names()) + 1  # and one that says whether a client may call them
    assert server.info("commandstats")["cmdstat_fcall"]["calls"] >= 3  # the enqueue, the claim, the ack
    assert app.adapter.get_job("lib", "j1")["state"] == "completed"


def test_the_library_is_named_after_its_text_so_two_versions_on_one_server_keep_one_each(app: Taskora) -> None:
    scripts = app.adapter.scripts
    assert re.fullmatch(r"taskora_[0-9a-f]{16}", scripts.library_name)
    assert scripts.library_text.startswith(f"#!lua name={scripts.library_name}\n")
    assert scripts.ack.function == f"{scripts.library_name}_ack"


def test_with_functions_turned_off_the_scripts_go_by_sha(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKORA_REDIS_FUNCTIONS", "0")
    app = Taskora(redis_url)
    try:
        _one_job_by_sha(app, "sha")
        assert app.adapter.scripts.claim.command(["k"], [])[0] == "EVALSHA"
    finally:
        app.close()


def test_the_in_memory_engine_runs_the_library_too() -> None:
    """fakeredis compiles an EVAL's text and collects all of Lua's garbage on every call; a function is compiled
    once, which makes the in-memory engine's transitions about twice as fast."""
    app = Taskora("memory://")
    try:
        echo = app.task("echo", lambda d: d)
        app.start()
        assert echo.dispatch("in").result(timeout=10) == "in"
        assert app.adapter.scripts.functions is True
        assert app.adapter.scripts.claim.command(["k"], [])[0] == "FCALL"
    finally:
        app.close()


@pytest.mark.parametrize("setting", ["an older fakeredis", "functions turned off"])
def test_an_in_memory_engine_without_a_tested_library_goes_by_sha(setting: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import fakeredis

    if setting == "an older fakeredis":
        monkeypatch.setattr(fakeredis, "__version__", "2.40.0")
    else:
        monkeypatch.setenv("TASKORA_REDIS_FUNCTIONS", "0")
    app = Taskora("memory://")
    try:
        _one_job_by_sha(app, "sha")
    finally:
        app.close()


@pytest.mark.parametrize("refused", [["-function", "-fcall", "-fcall_ro"], ["-fcall", "-fcall_ro"]],
                         ids=["functions", "only-fcall"])
def test_a_user_refused_functions_gets_every_script_by_sha(redis_url: str, refused: list[str]) -> None:
    """An ACL (or a managed service) that forbids functions, or only calling them (the library may be loaded and
    listed, but FCALL is refused): the first call finds out, and jobs still run."""
    admin = redis.Redis.from_url(redis_url)
    user = f"nofunctions-{uuid.uuid4().hex[:8]}"
    admin.acl_setuser(user, enabled=True, passwords=["+secret"], keys=["*"], channels=["*"],
                      commands=["+@all", *refused])  # fmt: skip
    host, port = admin.connection_pool.connection_kwargs["host"], admin.connection_pool.connection_kwargs["port"]
    app = Taskora(f"redis://{user}:secret@{host}:{port}/0")
    try:
        _one_job_by_sha(app, "refused")
    finally:
        app.close()
        admin.acl_deluser(user)


def test_a_server_that_lost_the_library_gets_it_again_for_transitions_read_later(app: Taskora, redis_url: str) -> None:
    """The claims a worker sends ahead and reads later (``claim_later``, ``ack_many_later``) find the library gone,
    load it and run: nothing they carried is lost."""
    app.task("later", lambda d: d)
    for job_id in ("a", "b"):
        _enqueue(app, "later", job_id)
    app.adapter.claim("later", "tok0", 30_000)  # the library is loaded
    forget_engine(redis_url)
    job = app.adapter.claim_later("later", "tok", 30_000).result().job
    assert job is not None and job.id == "b"
    forget_engine(redis_url)
    completion = Completion(job, b'"out"', True)
    done = app.adapter.ack_many_later("later", [completion], claim=0, token="", lock_ttl_ms=0).result()
    assert done.statuses == ["ok"]
    assert app.adapter.get_job("later", "b")["state"] == "completed"


def test_no_call_sees_what_the_call_before_it_left(redis_url: str) -> None:
    """A claim promotes due delayed jobs once per call (``claimed_once``): a flag left set by the call before would
    keep a due job delayed. Here the first claim looks while nothing is due, the second after the job is due."""
    clock = VirtualClock(start_ms=1_000_000)
    adapter = redis_adapter(redis_url, clock=clock)
    app = Taskora(adapter)
    try:
        app.task("due", lambda d: d)
        _enqueue(app, "due", "later-job", delay_ms=5_000)
        assert app.adapter.claim("due", "tok1", 30_000).job is None
        clock.advance(5_001)
        job = app.adapter.claim("due", "tok2", 30_000).job
        assert job is not None and job.id == "later-job"
        assert app.adapter.scripts.functions is True
    finally:
        app.close()


_DECLARATION = re.compile(r"local [A-Za-z_][A-Za-z0-9_]*(, [A-Za-z_][A-Za-z0-9_]*)*( = (-?[0-9]+|'[^']*'))?$")


def test_a_helper_computes_per_call_state_only_in_its_per_call_blocks() -> None:
    """In the library a helper file's top level runs once, when the library loads: anything it reads from a call
    (KEYS, ARGV, the clock) or changes during one (a table, a flag) must be set in a ``--@per-call`` block, which
    each call runs again. So outside those blocks a helper's top level holds only functions, declarations and
    constants."""
    helpers = resources.files(engine).joinpath("lib")
    offending = []
    for path in sorted(helpers.iterdir(), key=lambda p: p.name):
        in_block = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("--@per-call"):
                in_block = True
            elif line.startswith("--@end-per-call"):
                in_block = False
            elif in_block or line.startswith((" ", "--")) or not line:
                continue
            elif line.startswith("local function ") or line == "end":
                continue
            elif not _DECLARATION.match(line):
                offending.append(f"{path.name}:{number}: {line}")
    assert offending == []
