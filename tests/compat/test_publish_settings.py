# ruff: noqa: F811 - the make_celery fixture is imported, then requested by name
"""The settings a publish reads are kept until a setting changes (compat/app/_publish_settings.py): every
change made through ``app.conf`` applies at the next publish, a settings source read live is never kept,
and a publish with no change in between reads no setting at all."""

from __future__ import annotations

from typing import Any

import pytest
from taskora.compat.app.config import Settings
from taskora.compat.result import EagerResult

from .celery_helpers import make_celery  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("adapter_kind")


def _job(app: Any, result: Any) -> dict[str, Any]:
    job = app.__taskora_app__.adapter.get_job("pub.add", result.id)
    assert job is not None
    return {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
            for k, v in job.items()}


@pytest.fixture
def app(make_celery: Any) -> Any:
    celery = make_celery()

    @celery.task(name="pub.add")
    def add(x: int, y: int) -> int:
        return x + y

    return celery


def test_each_change_of_a_setting_between_two_publishes_applies_to_the_second(app: Any) -> None:
    add = app.tasks["pub.add"]
    assert not isinstance(add.delay(1, 2), EagerResult)
    app.conf.task_always_eager = True
    eager = add.delay(1, 2)
    assert isinstance(eager, EagerResult) and eager.get() == 3
    del app.conf["task_always_eager"]  # back to the default
    assert not isinstance(add.delay(1, 2), EagerResult)
    app.conf.update(task_ignore_result=True)
    ignored = add.delay(1, 2)
    # as the task now resolves it: left out of the job (the worker reads the task's; issue #22)
    assert ignored.ignored and "celery.ignore_result" not in _job(app, ignored)
    app.conf.task_ignore_result = False
    kept = add.delay(1, 2)
    assert not kept.ignored and "celery.ignore_result" not in _job(app, kept)
    assert _job(app, add.apply_async((1, 2), ignore_result=True))["celery.ignore_result"] == "True"  # the call's


def test_a_dict_setting_replaced_or_changed_in_place_applies_to_the_next_publish(app: Any) -> None:
    add = app.tasks["pub.add"]
    assert _job(app, add.apply_async((1, 2), priority=5))["priority"] == "-3"  # steps 0, 3, 6, 9: 5 is in 3's
    app.conf.broker_transport_options = {"priority_steps": [0, 9]}
    assert _job(app, add.apply_async((1, 2), priority=5))["priority"] == "0"  # now in 0's
    app.conf.broker_transport_options["priority_steps"] = [0, 3, 6, 9]
    assert _job(app, add.apply_async((1, 2), priority=5))["priority"] == "-3"


def test_settings_read_live_from_a_source_object_are_not_kept(app: Any) -> None:
    class Source:
        task_always_eager = False

    app.config_from_object(Source)
    add = app.tasks["pub.add"]
    assert not isinstance(add.delay(1, 2), EagerResult)
    Source.task_always_eager = True  # as Django's override_settings does: no write through app.conf
    assert isinstance(add.delay(1, 2), EagerResult)


def test_a_publish_with_no_setting_changed_since_the_last_reads_no_setting(app: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    add = app.tasks["pub.add"]
    add.delay(1, 2)
    reads: list[str] = []
    real = Settings.__getitem__

    def counted(self: Settings, key: str) -> Any:
        reads.append(key)
        return real(self, key)

    monkeypatch.setattr(Settings, "__getitem__", counted)
    add.delay(1, 2)
    assert reads == []
    app.conf.task_default_priority = 3  # any change: the next publish reads its settings again, once
    add.delay(1, 2)
    assert reads
    reads.clear()
    add.delay(1, 2)
    assert reads == []
