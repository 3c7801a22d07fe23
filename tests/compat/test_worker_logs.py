"""What a ``taskora worker -A proj`` of a Celery project writes to its log: Celery's lines, formats and settings.

Each test writes a small Celery project into ``tmp_path``, runs a real worker subprocess on the test
redis-server, sends tasks from this process and reads the worker's ``--logfile`` (or its stderr).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from taskora.compat import Celery

from .celery_helpers import CeleryWorker, wait_until

STAMP = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}: "
ID = r"[0-9a-f-]{36}"

PROJECT = '''
import os
from taskora.compat import Celery
from taskora.compat.utils.log import get_task_logger

app = Celery("logproj", broker=os.environ["REDIS_URL"])
app.conf.update({settings})
logger = get_task_logger(__name__)


@app.task(name="logproj.add")
def add(x, y):
    logger.info("adding %s and %s", x, y)
    print("printed by add")
    return x + y


@app.task(name="logproj.boom")
def boom():
    raise ValueError("boom")


@app.task(name="logproj.warns")
def warns():
    import warnings
    warnings.warn("careful now", UserWarning)


@app.task(name="logproj.flaky", bind=True)
def flaky(self):
    if self.request.retries < 1:
        raise self.retry(exc=KeyError("k"), countdown=1)
    return "ok"
'''


def write_project(tmp_path: Path, settings: str = "", extra: str = "") -> Path:
    (tmp_path / "logproj.py").write_text(PROJECT.format(settings=settings) + textwrap.dedent(extra))
    return tmp_path


@pytest.fixture
def client(redis_url: str) -> Celery:
    app = Celery("client", broker=redis_url)
    yield app
    app.close()


def run_worker(project: Path, redis_url: str, client: Celery, *args: str) -> CeleryWorker:
    worker = CeleryWorker(project, "logproj", redis_url, "logs@test", "-P", "threads", "-c", "1", *args)
    return worker.wait_ready(client)


def logged(path: Path, pattern: str) -> str:
    """Wait until ``path`` holds a line matching ``pattern``; return the whole text."""
    def found() -> str | None:
        text = path.read_text() if path.exists() else ""
        return text if re.search(pattern, text, re.MULTILINE) else None

    return wait_until(found, what=f"a log line matching {pattern!r} in {path}")


def test_logfile_has_celerys_task_lines_in_celerys_formats(tmp_path: Path, redis_url: str, client: Celery) -> None:
    logfile = tmp_path / "worker.log"
    worker = run_worker(write_project(tmp_path), redis_url, client, "--logfile", str(logfile))
    try:
        added = client.send_task("logproj.add", (2, 3))
        assert added.get(timeout=20) == 5
        failed = client.send_task("logproj.boom")
        with pytest.raises(ValueError):
            failed.get(timeout=20)
        assert client.send_task("logproj.flaky").get(timeout=20) == "ok"
        text = logged(logfile, rf"Task logproj\.flaky\[{ID}\] succeeded")
    finally:
        worker.stop()
    a, b = re.escape(added.id), re.escape(failed.id)
    assert re.search(rf"^{STAMP}INFO/MainProcess\] Task logproj\.add\[{a}\] received$", text, re.M)
    # get_task_logger lines carry task_name[task_id] (worker_task_log_format)
    assert re.search(rf"^{STAMP}INFO/MainProcess\] logproj\.add\[{a}\]: adding 2 and 3$", text, re.M)
    # print() goes to the log at WARNING (worker_redirect_stdouts, worker_redirect_stdouts_level)
    assert re.search(rf"^{STAMP}WARNING/MainProcess\] printed by add$", text, re.M)
    assert re.search(rf"^{STAMP}INFO/MainProcess\] Task logproj\.add\[{a}\] succeeded in \d[\d.e-]*s: 5$", text, re.M)
    assert re.search(rf"^{STAMP}ERROR/MainProcess\] Task logproj\.boom\[{b}\] raised unexpected: "
                     r"ValueError\('boom'\)\nTraceback \(most recent call last\):", text, re.M)
    assert re.search(rf"^{STAMP}INFO/MainProcess\] Task logproj\.flaky\[{ID}\] retry: Retry in 1s: KeyError\('k'\)$",
                     text, re.M)
    # a retry is not a failure, and the native worker's own job lines give way to Celery's
    assert not re.search(r"ERROR.*logproj\.flaky", text)
    assert "received attempt=" not in text and "failed after" not in text and "failed in" not in text
    assert text.count(f"Task logproj.boom[{failed.id}]") == 2  # received + raised, once each


def test_log_settings_are_honoured(tmp_path: Path, redis_url: str, client: Celery) -> None:
    settings = ('{"worker_log_format": "PROC %(levelname)s %(name)s: %(message)s", '
                '"worker_task_log_format": "TASK %(task_name)s %(task_id)s: %(message)s", '
                '"worker_redirect_stdouts_level": "ERROR"}')
    logfile = tmp_path / "worker.log"
    worker = run_worker(write_project(tmp_path, settings), redis_url, client, "--logfile", str(logfile))
    try:
        added = client.send_task("logproj.add", (1, 1))
        assert added.get(timeout=20) == 2
        client.send_task("logproj.warns").get(timeout=20)
        text = logged(logfile, r"^PROC INFO celery\.app\.trace: Task logproj\.warns.* succeeded")
    finally:
        worker.stop()
    assert f"PROC INFO celery.worker.strategy: Task logproj.add[{added.id}] received" in text
    assert f"TASK logproj.add {added.id}: adding 1 and 1" in text
    assert "PROC ERROR celery.redirected: printed by add" in text
    assert re.search(r"^PROC WARNING py\.warnings: .*UserWarning: careful now", text, re.M)  # captured, as Celery


def test_redirect_off_keeps_prints_out_of_the_log(tmp_path: Path, redis_url: str, client: Celery) -> None:
    project = write_project(tmp_path, '{"worker_redirect_stdouts": False}')
    logfile = tmp_path / "worker.log"
    worker = run_worker(project, redis_url, client, "--logfile", str(logfile))
    try:
        assert client.send_task("logproj.add", (1, 2)).get(timeout=20) == 3
        text = logged(logfile, r"Task logproj\.add.* succeeded")
        wait_until(lambda: "printed by add" in worker.log(), what="the print on the worker's own stdout")
    finally:
        worker.stop()
    assert "printed by add" not in text


HIJACK_OFF = '''
import logging

project_handler = logging.FileHandler(os.path.join(os.path.dirname(__file__), "project.log"))
project_handler.setFormatter(logging.Formatter("PROJECT %(name)s %(message)s"))
logging.getLogger().addHandler(project_handler)
'''


def test_hijack_off_keeps_the_projects_root_handler(tmp_path: Path, redis_url: str, client: Celery) -> None:
    project = write_project(tmp_path, '{"worker_hijack_root_logger": False}', HIJACK_OFF)
    worker = run_worker(project, redis_url, client)
    try:
        added = client.send_task("logproj.add", (3, 4))
        assert added.get(timeout=20) == 7
        text = logged(tmp_path / "project.log", r"Task logproj\.add.* succeeded")
    finally:
        worker.stop()
    assert f"PROJECT celery.worker.strategy Task logproj.add[{added.id}] received" in text
    # the project's handler replaced the worker's: Celery-format process lines are not on stderr
    assert not re.search(rf"{STAMP}INFO/MainProcess\] Task logproj\.add", worker.log())


OWN_LOGGING = '''
import json
import logging

from taskora.compat.signals import after_setup_logger, setup_logging

HERE = os.path.dirname(__file__)


@setup_logging.connect
def configure(loglevel=None, logfile=None, format=None, colorize=None, **kwargs):
    with open(os.path.join(HERE, "setup_logging.json"), "w") as fh:
        json.dump({"loglevel": loglevel, "logfile": logfile, "format": format, "colorize": colorize}, fh)
    handler = logging.FileHandler(os.path.join(HERE, "own.log"))
    handler.setFormatter(logging.Formatter("OWN %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


@after_setup_logger.connect
def never(**kwargs):
    open(os.path.join(HERE, "after_setup_logger.called"), "w").close()
'''


def test_setup_logging_receiver_means_the_worker_configures_nothing(tmp_path: Path, redis_url: str,
                                                                    client: Celery) -> None:
    logfile = tmp_path / "worker.log"
    worker = run_worker(write_project(tmp_path, "", OWN_LOGGING), redis_url, client, "--logfile", str(logfile))
    try:
        added = client.send_task("logproj.add", (5, 5))
        assert added.get(timeout=20) == 10
        own = logged(tmp_path / "own.log", r"Task logproj\.add.* succeeded")
    finally:
        worker.stop()
    assert f"OWN INFO Task logproj.add[{added.id}] received" in own
    assert "printed by add" not in own  # no stdout redirection either, as in Celery
    assert "Task logproj.add" not in logfile.read_text()  # the CLI's handler is gone too
    assert not (tmp_path / "after_setup_logger.called").exists()
    import json

    sent = json.loads((tmp_path / "setup_logging.json").read_text())
    assert sent == {"loglevel": 20, "logfile": str(logfile), "format": "[%(asctime)s: %(levelname)s/%(processName)s] "
                    "%(message)s", "colorize": False}


AFTER_SETUP = '''
import json

from taskora.compat.signals import after_setup_logger, after_setup_task_logger

HERE = os.path.dirname(__file__)


def _record(name, logger, loglevel, logfile, format, colorize):
    with open(os.path.join(HERE, name + ".json"), "w") as fh:
        json.dump({"logger": logger.name, "loglevel": loglevel, "logfile": logfile, "format": format,
                   "colorize": colorize, "propagate": bool(logger.propagate)}, fh)


@after_setup_logger.connect
def root_ready(logger=None, loglevel=None, logfile=None, format=None, colorize=None, **kwargs):
    _record("after_setup_logger", logger, loglevel, logfile, format, colorize)


@after_setup_task_logger.connect
def task_ready(logger=None, loglevel=None, logfile=None, format=None, colorize=None, **kwargs):
    _record("after_setup_task_logger", logger, loglevel, logfile, format, colorize)
'''


def test_after_setup_signals_carry_the_configured_loggers(tmp_path: Path, redis_url: str, client: Celery) -> None:
    import json

    logfile = tmp_path / "worker.log"
    worker = run_worker(write_project(tmp_path, "", AFTER_SETUP), redis_url, client, "--logfile", str(logfile),
                        "-l", "debug")
    worker.stop()
    root = json.loads((tmp_path / "after_setup_logger.json").read_text())
    task = json.loads((tmp_path / "after_setup_task_logger.json").read_text())
    assert root == {"logger": "root", "loglevel": 10, "logfile": str(logfile), "colorize": False, "propagate": True,
                    "format": "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"}
    assert task == {"logger": "celery.task", "loglevel": 10, "logfile": str(logfile), "colorize": False,
                    "propagate": False,
                    "format": "[%(asctime)s: %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(message)s"}


BEAT = '''
app.conf.beat_schedule = {"add-often": {"task": "logproj.add", "schedule": 1.0, "args": (1, 2)}}
'''


def test_beat_logs_each_due_task_it_sends(tmp_path: Path, redis_url: str, client: Celery) -> None:
    logfile = tmp_path / "worker.log"
    worker = run_worker(write_project(tmp_path, "", BEAT), redis_url, client, "-B", "--logfile", str(logfile))
    try:
        text = logged(logfile, r"(Scheduler: Sending due task add-often \(logproj\.add\)[\s\S]*){2}")
    finally:
        worker.stop()
    assert re.search(rf"^{STAMP}INFO/MainProcess\] Scheduler: Sending due task add-often \(logproj\.add\)$",
                     text, re.M)


HARD_LIMIT = '''

@app.task(name="logproj.stuck", time_limit=0.5)
def stuck():
    import time
    time.sleep(3)
'''


def test_a_failure_the_trace_never_saw_is_still_logged(tmp_path: Path, redis_url: str, client: Celery) -> None:
    logfile = tmp_path / "worker.log"
    worker = run_worker(write_project(tmp_path, "", HARD_LIMIT), redis_url, client, "--logfile", str(logfile))
    try:
        stuck = client.send_task("logproj.stuck")
        with pytest.raises(Exception, match="hard time limit"):
            stuck.get(timeout=20)
        text = logged(logfile, rf"ERROR/MainProcess\] .*{re.escape(stuck.id)}.*TimeLimitExceeded")
    finally:
        worker.stop()
    assert text.count("TimeLimitExceeded: ") >= 1


def test_prefork_children_log_in_the_same_formats(tmp_path: Path, redis_url: str, client: Celery) -> None:
    logfile = tmp_path / "worker.log"
    worker = CeleryWorker(write_project(tmp_path), "logproj", redis_url, "pre@test", "-P", "prefork", "-c", "1",
                          "--logfile", str(logfile)).wait_ready(client)
    try:
        added = client.send_task("logproj.add", (4, 4))
        assert added.get(timeout=20) == 8
        text = logged(logfile, r"Task logproj\.add.* succeeded")
    finally:
        worker.stop()
    a = re.escape(added.id)
    child = r"INFO/ForkPoolWorker-1\]"
    assert re.search(rf"^{STAMP}{child} Task logproj\.add\[{a}\] received$", text, re.M)
    assert re.search(rf"^{STAMP}{child} logproj\.add\[{a}\]: adding 4 and 4$", text, re.M)
    assert re.search(rf"^{STAMP}WARNING/ForkPoolWorker-1\] printed by add$", text, re.M)
    assert re.search(rf"^{STAMP}{child} Task logproj\.add\[{a}\] succeeded in \d[\d.e-]*s: 8$", text, re.M)
