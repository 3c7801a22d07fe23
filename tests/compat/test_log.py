"""Celery's logger hierarchy and the task-aware formatter."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from taskora.compat.utils import log


@pytest.fixture(autouse=True)
def _no_task_getter() -> Iterator[None]:
    previous = log.set_current_task_getter(None)
    yield
    log.set_current_task_getter(previous)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _record(msg: str = "hello", **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("proj.tasks", logging.INFO, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_base_loggers_have_celerys_names() -> None:
    assert log.base_logger.name == "celery" and log.logger is log.base_logger
    assert log.task_logger.name == "celery.task" and log.task_logger.parent is log.base_logger
    assert log.worker_logger.name == "celery.worker"


def test_task_logger_keeps_its_name_and_hangs_under_celery_task() -> None:
    name = _unique("proj") + ".tasks"
    task_log = log.get_task_logger(name)
    assert task_log.name == name
    assert task_log.parent is log.task_logger
    assert log.get_task_logger(name) is task_log  # stable


def test_task_logger_records_reach_celery_task_handlers() -> None:
    """A project's existing handler on ``celery.task`` keeps receiving task log lines."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    log.task_logger.addHandler(handler)
    try:
        task_log = log.get_task_logger(_unique("app") + ".tasks")
        task_log.setLevel(logging.INFO)
        task_log.info("processing %s", 42)
    finally:
        log.task_logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == ["processing 42"]


@pytest.mark.parametrize("name", ["celery", "celery.task"])
def test_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(RuntimeError, match="reserved"):
        log.get_task_logger(name)


def test_get_logger_under_root_is_left_alone_but_nested_ones_join_celery() -> None:
    top = _unique("mod")
    plain = log.get_logger(top)
    assert plain.parent is logging.root  # a plain module logger keeps propagating to root
    child = log.get_logger(top + ".child")  # parent is the `top` logger, outside celery
    assert child.parent is log.base_logger
    inside = log.get_logger("celery." + _unique("part"))
    assert inside.parent is log.base_logger


def test_formatter_fills_placeholders_outside_a_task() -> None:
    formatter = log.TaskFormatter("%(task_name)s[%(task_id)s]: %(message)s")
    assert formatter.format(_record()) == "???[???]: hello"


def test_formatter_uses_the_registered_current_task() -> None:
    task = SimpleNamespace(name="proj.tasks.add", request=SimpleNamespace(id="abc-123"))
    log.set_current_task_getter(lambda: task)
    formatter = log.TaskFormatter("%(task_name)s[%(task_id)s]: %(message)s")
    assert formatter.format(_record(task_id="stale")) == "proj.tasks.add[abc-123]: hello"


def test_formatter_survives_a_broken_getter_and_keeps_explicit_extras() -> None:
    def broken() -> None:
        raise RuntimeError("no context")

    log.set_current_task_getter(broken)
    formatter = log.TaskFormatter("%(task_name)s[%(task_id)s]")
    assert formatter.format(_record(task_name="given", task_id="x")) == "given[x]"
    assert formatter.format(_record()) == "???[???]"


def test_getter_registration_returns_previous() -> None:
    def first() -> None:
        return None

    assert log.set_current_task_getter(first) is None
    assert log.set_current_task_getter(None) is first


def test_default_task_format_is_celerys() -> None:
    formatter = log.TaskFormatter()
    assert formatter._fmt == log.DEFAULT_TASK_LOG_FMT
    assert "%(task_name)s[%(task_id)s]: %(message)s" in log.DEFAULT_TASK_LOG_FMT


def test_logging_proxy_forwards_prints_to_a_logger(caplog: pytest.LogCaptureFixture) -> None:
    target = logging.getLogger(_unique("stdout"))
    proxy = log.LoggingProxy(target, loglevel="warning")
    with caplog.at_level(logging.WARNING, logger=target.name):
        assert proxy.write("printed line\n") == len("printed line\n")
        proxy.write("   \n")  # blank writes are dropped
        proxy.writelines(["a\n", "b\n"])
        proxy.close()
        proxy.write("after close")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "printed line"),
        (logging.WARNING, "a"),
        (logging.WARNING, "b"),
    ]
    assert proxy.isatty() is False and proxy.fileno() is None


def test_color_formatter_colours_by_level_only_when_asked() -> None:
    from taskora.compat.utils.log import ColorFormatter

    error = logging.LogRecord("x", logging.ERROR, __file__, 1, "bad", None, None)
    info = logging.LogRecord("x", logging.INFO, __file__, 1, "fine", None, None)
    assert ColorFormatter("%(message)s", use_color=True).format(error) == "\033[1;31mbad\033[0m"
    assert ColorFormatter("%(message)s", use_color=True).format(info) == "fine"
    assert ColorFormatter("%(message)s").format(error) == "bad"
    assert log.TaskFormatter("%(task_name)s %(message)s", use_color=True).format(error) == "\033[1;31m??? bad\033[0m"


def test_worker_log_color_reads_as_celerys() -> None:
    from taskora.compat.app._worker_logging import supports_color

    assert supports_color(False, None) is False
    # True or unset: colour only a terminal, never a log file (stderr is not a tty under pytest's capture)
    assert supports_color(True, "worker.log") is False and supports_color(None, "worker.log") is False
