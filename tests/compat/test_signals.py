# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""Celery's ``Signal`` contract (connect forms, sender filtering, weak refs, dispatch_uid, robust send), and the
signals and outcomes of a worker's moments (received, Reject requeue, ignore_result, internal errors)."""

from __future__ import annotations

import gc
import logging
import os
import warnings
from typing import Any

import pytest
from taskora.compat import signals
from taskora.compat.exceptions import Reject
from taskora.compat.signals import Signal

from .celery_helpers import make_celery, wait_until  # noqa: F401 - fixture


@pytest.fixture
def sig() -> Signal:
    return Signal(name="test_signal", providing_args=["value"])


class _Task:
    """Stands in for a task object: signals only look at ``name`` (and identity)."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_connect_as_bare_decorator_returns_the_function(sig: Signal) -> None:
    seen: list[Any] = []

    @sig.connect
    def handler(sender: Any = None, **kwargs: Any) -> str:
        seen.append((sender, kwargs))
        return "ok"

    assert callable(handler) and handler.__name__ == "handler"
    result = sig.send(sender="me", value=1)
    assert result == [(handler, "ok")]
    assert seen == [("me", {"signal": sig, "value": 1})]


def test_connect_with_options_and_as_call(sig: Signal) -> None:
    calls: list[str] = []

    @sig.connect(weak=False)
    def decorated(**kwargs: Any) -> None:
        calls.append("decorated")

    def plain(**kwargs: Any) -> None:
        calls.append("plain")

    assert sig.connect(plain) is plain
    sig.send(sender=None)
    assert calls == ["decorated", "plain"]


def test_receiver_without_kwargs_is_refused(sig: Signal) -> None:
    def no_kwargs(sender: Any) -> None:  # pragma: no cover - never called
        pass

    with pytest.raises(ValueError, match="keyword arguments"):
        sig.connect(no_kwargs)


def test_sender_filter_by_identity(sig: Signal) -> None:
    a, b = _Task("a"), _Task("b")
    heard: list[Any] = []

    def handler(sender: Any = None, **kwargs: Any) -> None:
        heard.append(sender)

    sig.connect(handler, sender=a)
    sig.send(sender=b)
    sig.send(sender=None)
    sig.send(sender=a)
    assert heard == [a]


def test_sender_as_task_name_string_matches_strings_and_named_objects(sig: Signal) -> None:
    heard: list[Any] = []

    @sig.connect(sender="proj.tasks.add")
    def handler(sender: Any = None, **kwargs: Any) -> None:
        heard.append(sender)

    add, other = _Task("proj.tasks.add"), _Task("proj.tasks.mul")
    sig.send(sender="proj.tasks.add")  # before_task_publish style: the name itself
    sig.send(sender=add)  # task_prerun style: the task object
    sig.send(sender="proj.tasks.mul")
    sig.send(sender=other)
    assert heard == ["proj.tasks.add", add]


def test_sender_proxy_is_resolved(sig: Signal) -> None:
    real = _Task("t")

    class Proxy:
        def _get_current_object(self) -> _Task:
            return real

    heard: list[Any] = []
    sig.connect(lambda sender=None, **kw: heard.append(sender), sender=Proxy(), weak=False)
    sig.send(sender=real)
    assert heard == [real]


def test_receivers_are_weak_by_default(sig: Signal) -> None:
    calls: list[str] = []
    sig.connect(lambda **kw: calls.append("weak"))
    sig.connect(lambda **kw: calls.append("strong"), weak=False)
    with warnings.catch_warnings():  # a full collection also finds what earlier tests left (an unclosed socket
        warnings.simplefilter("ignore", ResourceWarning)  # once): that is not what this test looks at
        gc.collect()
    sig.send(sender=None)
    assert calls == ["strong"]
    assert len(sig.receivers) == 1


def test_bound_method_receiver_lives_as_long_as_its_instance(sig: Signal) -> None:
    calls: list[str] = []

    class Listener:
        def on(self, **kwargs: Any) -> None:
            calls.append("on")

    listener = Listener()
    sig.connect(listener.on)
    gc.collect()  # the bound-method object itself is gone; the instance is not
    sig.send(sender=None)
    del listener
    gc.collect()
    sig.send(sender=None)
    assert calls == ["on"]


def test_connecting_twice_is_deduplicated(sig: Signal) -> None:
    calls: list[str] = []

    def handler(**kwargs: Any) -> None:
        calls.append("h")

    sig.connect(handler)
    sig.connect(handler)
    sig.send(sender=None)
    assert calls == ["h"]


def test_dispatch_uid_deduplicates_different_functions(sig: Signal) -> None:
    calls: list[str] = []

    def first(**kwargs: Any) -> None:
        calls.append("first")

    def second(**kwargs: Any) -> None:
        calls.append("second")

    sig.connect(first, dispatch_uid="only-once")
    sig.connect(second, dispatch_uid="only-once")
    sig.send(sender=None)
    assert calls == ["first"]
    assert sig.disconnect(dispatch_uid="only-once") is True
    sig.send(sender=None)
    assert calls == ["first"]


def test_disconnect_needs_the_same_sender(sig: Signal) -> None:
    calls: list[str] = []

    def handler(**kwargs: Any) -> None:
        calls.append("h")

    sig.connect(handler, sender="a")
    assert sig.disconnect(handler) is False  # connected for sender "a", not for None
    assert sig.disconnect(handler, sender="a") is True
    sig.send(sender="a")
    assert calls == []


def test_raising_receiver_is_logged_and_others_still_run(sig: Signal, caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    boom = RuntimeError("boom")

    def bad(**kwargs: Any) -> None:
        raise boom

    def good(**kwargs: Any) -> str:
        calls.append("good")
        return "fine"

    sig.connect(bad)
    sig.connect(good)
    with caplog.at_level(logging.ERROR):
        result = sig.send(sender=None)
    assert result == [(bad, boom), (good, "fine")]
    assert calls == ["good"]
    assert any(r.name.startswith("celery") and "raised" in r.getMessage() for r in caplog.records)
    assert sig.send_robust(sender=None) == result


def test_retry_receiver_is_retried_until_it_succeeds(sig: Signal, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(signals, "_sleep", sleeps.append)
    attempts: list[int] = []

    def flaky(**kwargs: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("not yet")
        return "done"

    sig.connect(flaky, retry=True)
    gc.collect()  # retry implies a strong reference
    assert sig.send(sender=None)[0][1] == "done"
    assert len(attempts) == 3 and sleeps == [2.0, 4.0]
    assert sig.disconnect(flaky) is True


def test_has_listeners(sig: Signal) -> None:
    def handler(**kwargs: Any) -> None:
        pass

    assert not sig.has_listeners()
    sig.connect(handler, sender="x")
    assert sig.has_listeners("x") and not sig.has_listeners("y")



def test_every_change_to_the_receivers_is_heard_by_the_next_send(sig: Signal) -> None:
    """A send reuses the receivers it found while nobody filters by sender; a connect, a disconnect, a
    receiver collected, or a receiver with a sender filter changes what the next send reaches."""
    calls: list[str] = []

    def first(**kwargs: Any) -> None:
        calls.append("first")

    def second(**kwargs: Any) -> None:
        calls.append("second")

    sig.connect(first)
    sig.send(sender=None)
    sig.connect(second)
    sig.send(sender=None)
    sig.disconnect(first)
    sig.send(sender=None)
    assert calls == ["first", "first", "second", "second"]

    calls.clear()
    sig.connect(lambda **kw: calls.append("filtered"), sender="only-this", weak=False)
    sig.send(sender="another")
    sig.send(sender="only-this")
    assert calls == ["second", "second", "filtered"]

    calls.clear()
    del second
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    sig.send(sender="only-this")
    assert calls == ["filtered"]

def test_named_signals_exist_with_celerys_arguments() -> None:
    expected = {
        "task_prerun": {"task_id", "task", "args", "kwargs"},
        "task_postrun": {"task_id", "task", "args", "kwargs", "retval", "state"},
        "task_success": {"result", "runtime"},
        "task_failure": {"task_id", "exception", "args", "kwargs", "traceback", "einfo"},
        "task_retry": {"request", "reason", "einfo"},
        "task_revoked": {"request", "terminated", "signum", "expired"},
        "task_received": {"request"},
        "task_rejected": {"message", "exc"},
        "task_unknown": {"message", "exc", "name", "id"},
        "before_task_publish": {
            "body",
            "exchange",
            "routing_key",
            "headers",
            "properties",
            "declare",
            "retry_policy",
        },
        "after_task_publish": {"body", "exchange", "routing_key"},
        "worker_shutting_down": {"sig", "how", "exitcode"},
        "worker_process_shutdown": {"pid", "exitcode"},
        "celeryd_init": {"instance", "conf", "options"},
        "celeryd_after_setup": {"instance", "conf"},
        "setup_logging": {"loglevel", "logfile", "format", "colorize"},
        "after_setup_logger": {"logger", "loglevel", "logfile", "format", "colorize"},
        "after_setup_task_logger": {"logger", "loglevel", "logfile", "format", "colorize"},
    }
    for name, args in expected.items():
        signal = getattr(signals, name)
        assert isinstance(signal, Signal) and signal.name == name
        assert signal.providing_args == args, name
    for name in [
        "worker_init",
        "worker_ready",
        "worker_shutdown",
        "worker_process_init",
        "beat_init",
        "beat_embedded_init",
        "import_modules",
    ]:
        assert isinstance(getattr(signals, name), Signal)
    assert all(isinstance(getattr(signals, n), Signal) for n in signals.__all__ if n != "Signal")


def test_named_signal_round_trip_with_task_sender() -> None:
    task = _Task("proj.tasks.add")
    seen: dict[str, Any] = {}

    def on_prerun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
        seen.update(sender=sender, task_id=task_id, args=kwargs["args"])

    signals.task_prerun.connect(on_prerun, sender="proj.tasks.add")
    try:
        signals.task_prerun.send(sender=task, task_id="id-1", task=task, args=[1, 2], kwargs={})
    finally:
        signals.task_prerun.disconnect(on_prerun, sender="proj.tasks.add")
    assert seen == {"sender": task, "task_id": "id-1", "args": [1, 2]}


# --- signals and outcomes at a worker's moments (in-process workers, both engines) ----------------------------


@pytest.fixture
def connected() -> Any:
    """``connected(signal, receiver, **options)``: connect for this test only (strongly held)."""
    made: list[tuple[Signal, Any]] = []

    def connect(signal: Signal, receiver: Any, **options: Any) -> Any:
        signal.connect(receiver, weak=False, **options)
        made.append((signal, receiver))
        return receiver

    yield connect
    for signal, receiver in made:
        signal.disconnect(receiver, sender=None)


@pytest.mark.usefixtures("adapter_kind")
def test_task_received_is_sent_before_prerun_with_the_request(make_celery: Any, connected: Any) -> None:
    app = make_celery()
    order: list[tuple[str, Any]] = []
    connected(signals.task_received, lambda sender=None, request=None, **kw: order.append(("received", request)))
    connected(signals.task_prerun, lambda sender=None, task_id=None, **kw: order.append(("prerun", task_id)))
    successes: list[dict[str, Any]] = []
    connected(signals.task_success, lambda **kw: successes.append(kw))

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    result = add.delay(2, 3)
    app.__taskora_app__.start(concurrency=1)
    assert result.get(timeout=10) == 5
    (first, request), second = order
    assert first == "received" and request.id == result.id and request.args == [2, 3]
    assert second == ("prerun", result.id)
    (success,) = successes  # Celery 5.7 also sends how long the body ran
    assert success["result"] == 5 and isinstance(success["runtime"], float) and 0 <= success["runtime"] < 5


@pytest.mark.usefixtures("adapter_kind")
def test_reject_requeue_redelivers_once_at_the_back_marked_redelivered(make_celery: Any) -> None:
    app = make_celery()
    runs: list[tuple[str, bool, int]] = []

    @app.task(bind=True)
    def picky(self: Any, label: str) -> str:
        redelivered = self.request.delivery_info["redelivered"]
        runs.append((label, redelivered, self.request.retries))
        if label == "a" and not redelivered:
            raise Reject("not yet", requeue=True)
        return label

    # "b" one priority step lower: two jobs of one priority sent in the same millisecond are ordered by id,
    # not FIFO (the wire format scores prioritized jobs by priority and ms only), which made this flaky
    first, second = picky.delay("a"), picky.apply_async(("b",), priority=3)
    app.__taskora_app__.start(concurrency=1)
    assert first.get(timeout=15) == "a" and second.get(timeout=15) == "b"
    # a requeue is neither a retry nor a hot loop: one redelivery, behind the job queued after it
    assert runs == [("a", False, 0), ("b", False, 0), ("a", True, 0)]


def test_eager_reject_requeue_is_rejected_not_rerun() -> None:
    from taskora.compat import Celery

    app = Celery("eager", broker="memory://", task_always_eager=True)
    calls: list[int] = []

    @app.task
    def picky() -> None:
        calls.append(1)
        raise Reject("no", requeue=True)

    result = picky.delay()
    assert result.state == "REJECTED" and calls == [1]
    app.close()


@pytest.mark.usefixtures("adapter_kind")
def test_ignore_result_per_call_stores_nothing(make_celery: Any) -> None:
    app = make_celery()

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    ignored = add.apply_async((1, 2), ignore_result=True)
    kept = add.delay(3, 4)
    app.__taskora_app__.start(concurrency=1)
    assert kept.get(timeout=10) == 7
    handle = ignored._handle()
    wait_until(lambda: handle.state() == "completed", what="the ignored job to finish")
    assert ignored.state == "PENDING" and ignored.result is None


@pytest.mark.usefixtures("adapter_kind")
def test_task_internal_error_when_the_message_around_the_task_is_broken(make_celery: Any, connected: Any,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    app = make_celery()
    seen: list[dict[str, Any]] = []
    connected(signals.task_internal_error, lambda **kw: seen.append(kw))
    ran: list[int] = []

    @app.task
    def add(x: int, y: int) -> int:
        ran.append(1)
        return x + y

    engine = app._engine_task(add, add.name, "celery")
    # headers must be a mapping: a list there is a message this worker cannot turn into a request
    handle = engine.dispatch({"args": [1, 2], "kwargs": {}}, meta={"celery.headers": "[1]"})
    with caplog.at_level(logging.CRITICAL, logger="celery.app.trace"):
        app.__taskora_app__.start(concurrency=1)
        wait_until(lambda: handle.state() == "failed", what="the broken job to fail (never stay active)")
    (sent,) = seen
    assert sent["sender"] is add and sent["task_id"] == handle.id and sent["args"] == [1, 2]
    assert isinstance(sent["exception"], AttributeError) and sent["einfo"].exception is sent["exception"]
    assert ran == []
    assert f"Task {add.name}[{handle.id}] INTERNAL ERROR: AttributeError(" in caplog.text


# --- worker-process moments: a real `taskora worker -A` subprocess ---------------------------------------------

PROCESS_SIGNALS = '''
import json
import os

from taskora.compat import Celery
from taskora.compat.signals import (beat_embedded_init, beat_init, heartbeat_sent, worker_process_init,
                                    worker_process_shutdown)

app = Celery("sigproj", broker=os.environ["REDIS_URL"])
app.conf.broker_transport_options = {"visibility_timeout": 1.5}  # the lock heartbeat beats every 0.5 s
app.conf.beat_schedule = {"tick": {"task": "sigproj.noop", "schedule": 3600.0}}
HERE = os.path.dirname(os.path.abspath(__file__))


def record(name, **fields):
    with open(os.path.join(HERE, "signals.jsonl"), "a") as fh:
        fh.write(json.dumps({"signal": name, "pid": os.getpid(), **fields}) + "\\n")


class Recorder:
    """Receivers bound to an instance, kept alive by the module (Celery's weak references)."""

    def process_init(self, sender=None, **kwargs):
        record("worker_process_init", sender=sender)

    def process_shutdown(self, sender=None, pid=None, exitcode=None, **kwargs):
        record("worker_process_shutdown", sender=sender, sent_pid=pid, exitcode=exitcode)

    def beat_started(self, sender=None, signal=None, **kwargs):
        record(signal.name, sender=type(sender).__name__)

    def heartbeat(self, sender=None, **kwargs):
        if not self.beats:
            record("heartbeat_sent", sender=type(sender).__name__)
        self.beats += 1

    beats = 0


recorder = Recorder()
worker_process_init.connect(recorder.process_init)
worker_process_shutdown.connect(recorder.process_shutdown)
beat_init.connect(recorder.beat_started)
beat_embedded_init.connect(recorder.beat_started)
heartbeat_sent.connect(recorder.heartbeat)


@app.task(name="sigproj.noop")
def noop():
    return os.getpid()
'''


def test_prefork_child_heartbeat_and_embedded_beat_moments_send_their_signals(tmp_path: Any, redis_url: str) -> None:
    import json
    import signal as signum

    from taskora.compat import Celery

    from .celery_helpers import CeleryWorker

    (tmp_path / "sigproj.py").write_text(PROCESS_SIGNALS)
    client = Celery("client", broker=redis_url)
    worker = CeleryWorker(tmp_path, "sigproj", redis_url, "sig@test", "-P", "prefork", "-c", "1", "-B")
    try:
        worker.wait_ready(client)
        child_pid = client.send_task("sigproj.noop").get(timeout=20)
        wait_until(lambda: "heartbeat_sent" in (tmp_path / "signals.jsonl").read_text(), what="a heartbeat")
        worker.proc.send_signal(signum.SIGTERM)
        assert worker.proc.wait(20) == 0
    finally:
        worker.stop()
        client.close()
    lines = [json.loads(line) for line in (tmp_path / "signals.jsonl").read_text().splitlines()]
    by_signal = {line["signal"]: line for line in lines}
    assert by_signal["worker_process_init"] == {"signal": "worker_process_init", "pid": child_pid,
                                                "sender": "sig@test"}
    assert by_signal["worker_process_shutdown"] == {"signal": "worker_process_shutdown", "pid": child_pid,
                                                    "sender": "sig@test", "sent_pid": child_pid, "exitcode": 0}
    assert by_signal["heartbeat_sent"] == {"signal": "heartbeat_sent", "pid": child_pid, "sender": "Worker"}
    main_pid = worker.proc.pid
    assert by_signal["beat_init"] == {"signal": "beat_init", "pid": main_pid, "sender": "SchedulerRunner"}
    assert by_signal["beat_embedded_init"] == {"signal": "beat_embedded_init", "pid": main_pid,
                                               "sender": "SchedulerRunner"}


REVOKED = '''
import json
import os
import time

from taskora.compat import Celery
from taskora.compat.signals import task_revoked

app = Celery("revproj", broker=os.environ["REDIS_URL"])
HERE = os.path.dirname(os.path.abspath(__file__))


@task_revoked.connect
def revoked(sender=None, request=None, terminated=None, signum=None, expired=None, **kwargs):
    with open(os.path.join(HERE, "revoked.jsonl"), "a") as fh:
        fh.write(json.dumps({"sender": sender.name, "id": request.id, "args": request.args, "terminated": terminated,
                             "signum": signum, "expired": expired, "pid": os.getpid()}) + "\\n")


@app.task(name="revproj.add")
def add(x, y):
    return x + y


@app.task(name="revproj.slow")
def slow(seconds):
    time.sleep(seconds)
    return seconds
'''


def test_task_revoked_once_for_revoked_expired_and_terminated_jobs(tmp_path: Any, redis_url: str) -> None:
    import json

    from taskora.compat import Celery

    from .celery_helpers import CeleryWorker

    (tmp_path / "revproj.py").write_text(REVOKED)
    client = Celery("client", broker=redis_url)
    workers = [CeleryWorker(tmp_path, "revproj", redis_url, f"rev{n}@test", "-P", "threads", "-c", "1")
               for n in (1, 2)]
    lines = tmp_path / "revoked.jsonl"

    def recorded() -> dict[str, dict[str, Any]]:
        text = lines.read_text() if lines.exists() else ""
        return {entry["id"]: entry for entry in map(json.loads, text.splitlines())}

    try:
        for worker in workers:
            worker.wait_ready(client)
        waiting = client.send_task("revproj.add", (1, 2), countdown=60)
        client.control.revoke(waiting.id)
        expiring = client.send_task("revproj.add", (3, 4), countdown=1, expires=0.5)
        running = client.send_task("revproj.slow", (30.0,))  # the terminate ends it: on a loaded machine a short
        # one could end by itself before the revoke reaches its worker, and send no signal
        wait_until(lambda: running._handle().state() == "active", what="the slow job to start")
        client.control.revoke(running.id, terminate=True)
        try:
            wait_until(lambda: len(recorded()) == 3, what=f"three task_revoked signals (waiting {waiting.id}, "
                                                           f"expiring {expiring.id}, running {running.id})")
        except AssertionError as exc:  # seen once in CI, never here: which signals came, and what the workers said
            logs = "\n".join(f"--- {worker.hostname}:\n{worker.log()[-3000:]}" for worker in workers)
            raise AssertionError(f"{exc}; recorded {sorted(recorded())}\n{logs}") from exc
    finally:
        for worker in workers:
            worker.stop()
        client.close()
    seen = recorded()
    assert lines.read_text().count("\n") == 3  # once per job, though two workers follow the events
    pids = {w.proc.pid for w in workers}
    assert seen[waiting.id] == {"sender": "revproj.add", "id": waiting.id, "args": [1, 2], "terminated": False,
                                "signum": None, "expired": False, "pid": seen[waiting.id]["pid"]}
    assert seen[expiring.id]["expired"] is True and seen[expiring.id]["terminated"] is False
    assert seen[running.id]["terminated"] is True and seen[running.id]["signum"] == 15
    assert {entry["pid"] for entry in seen.values()} <= pids


@pytest.mark.usefixtures("adapter_kind")
def test_task_rejected_for_a_job_that_is_no_celery_call(make_celery: Any, connected: Any,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from taskora.compat.exceptions import InvalidTaskError

    app = make_celery()
    seen: list[dict[str, Any]] = []
    connected(signals.task_rejected, lambda **kw: seen.append(kw))
    ran: list[int] = []

    @app.task
    def add(x: int = 0, y: int = 0) -> int:
        ran.append(1)
        return x + y

    engine = app._engine_task(add, add.name, "celery")
    handle = engine.dispatch(5)  # a native dispatch of plain data to a Celery task
    with caplog.at_level(logging.ERROR, logger="celery.worker.strategy"):
        app.__taskora_app__.start(concurrency=1)
        wait_until(lambda: handle.state() == "failed", what="the invalid job to fail (never run, never stay active)")
    (sent,) = seen
    assert sent["sender"] is app and isinstance(sent["exc"], InvalidTaskError)
    assert sent["message"].id == handle.id and sent["message"].payload == 5
    assert ran == []
    assert "Received invalid task message: job" in caplog.text and "got int" in caplog.text
    with pytest.raises(InvalidTaskError, match="got int"):
        app.AsyncResult(handle.id).get(timeout=5)


BEAT_ALONE = '''
import json
import os

from taskora.compat import Celery
from taskora.compat.signals import beat_embedded_init, beat_init

app = Celery("beatalone", broker=os.environ["REDIS_URL"])
app.conf.beat_schedule = {"often": {"task": "beatalone.add", "schedule": 1.0, "args": (1, 2)}}
HERE = os.path.dirname(os.path.abspath(__file__))


@beat_init.connect
@beat_embedded_init.connect
def started(sender=None, signal=None, **kwargs):
    with open(os.path.join(HERE, "beat.jsonl"), "a") as fh:
        fh.write(json.dumps({"signal": signal.name, "sender": type(sender).__name__}) + "\\n")


@app.task(name="beatalone.add")
def add(x, y):
    return x + y
'''


def test_standalone_beat_sends_beat_init_and_logs_in_celerys_format(tmp_path: Any, redis_url: str) -> None:
    import json
    import os
    import re
    import subprocess
    import sys

    (tmp_path / "beatalone.py").write_text(BEAT_ALONE)
    logfile = tmp_path / "beat.log"
    env = dict(os.environ, REDIS_URL=redis_url, PYTHONPATH=os.pathsep.join([str(tmp_path),
                                                                            os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "taskora", "beat", "-A", "beatalone", "-l", "info", "--logfile",
                             str(logfile)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: logfile.exists() and logfile.read_text().count("Sending due task often") >= 1,
                   what="beat to send a due task")
    finally:
        proc.terminate()
        proc.wait(10)
    lines = [json.loads(line) for line in (tmp_path / "beat.jsonl").read_text().splitlines()]
    assert lines == [{"signal": "beat_init", "sender": "SchedulerRunner"}]  # not embedded in a worker
    assert re.search(r"^\[[\d\- :,]+: INFO/MainProcess\] Scheduler: Sending due task often \(beatalone\.add\)$",
                     logfile.read_text(), re.M)


CRASHY = '''
import json
import os
import time

from taskora.compat import Celery

app = Celery("crashproj", broker=os.environ["REDIS_URL"])
app.conf.broker_transport_options = {"visibility_timeout": 1.0}  # a dead worker's job comes back within seconds
HERE = os.path.dirname(os.path.abspath(__file__))


@app.task(name="crashproj.once", bind=True)
def once(self):
    redelivered = self.request.delivery_info["redelivered"]
    with open(os.path.join(HERE, "deliveries.jsonl"), "a") as fh:
        fh.write(json.dumps({"pid": os.getpid(), "redelivered": redelivered}) + "\\n")
    if not redelivered:
        time.sleep(60)  # the test kills this worker here
    return "done"
'''


def test_a_job_recovered_from_a_dead_worker_is_marked_redelivered(tmp_path: Any, redis_url: str) -> None:
    import json
    import signal as signum

    from taskora.compat import Celery

    from .celery_helpers import CeleryWorker

    (tmp_path / "crashproj.py").write_text(CRASHY)
    client = Celery("client", broker=redis_url)
    deliveries = tmp_path / "deliveries.jsonl"
    first = CeleryWorker(tmp_path, "crashproj", redis_url, "crash1@test", "-P", "threads", "-c", "1")
    second = None
    try:
        first.wait_ready(client)
        result = client.send_task("crashproj.once")
        wait_until(lambda: deliveries.exists(), what="the first delivery")
        os.killpg(first.proc.pid, signum.SIGKILL)
        first.proc.wait(10)
        second = CeleryWorker(tmp_path, "crashproj", redis_url, "crash2@test", "-P", "threads", "-c", "1")
        assert result.get(timeout=30) == "done"
    finally:
        first.stop()
        if second is not None:
            second.stop()
        client.close()
    runs = [json.loads(line) for line in deliveries.read_text().splitlines()]
    assert [run["redelivered"] for run in runs] == [False, True]


@pytest.mark.usefixtures("adapter_kind")
def test_task_received_request_carries_celerys_payload_with_the_links(make_celery: Any, connected: Any) -> None:
    """Celery's worker Request keeps ``(args, kwargs, embed)`` as ``_Request__payload``; its own suite's receivers
    read the links from there (test_linking_stamped_sig)."""
    app = make_celery()
    payloads: list[Any] = []
    connected(signals.task_received, lambda sender=None, request=None, **kw: payloads.append(request._Request__payload))

    @app.task(name="payload.add")
    def add(x: int, y: int) -> int:
        return x + y

    result = add.apply_async((2, 3), link=add.si(1, 1))
    app.__taskora_app__.start(concurrency=1)
    assert result.get(timeout=10) == 5
    args, kwargs, embed = payloads[0]
    assert (args, kwargs, embed["errbacks"]) == ([2, 3], {}, None)
    assert embed["callbacks"][0]["task"] == "payload.add" and embed["callbacks"][0]["args"] == [1, 1]
