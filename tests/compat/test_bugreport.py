"""``app.bugreport()``, the URL masking it shares with ``conf.humanize()``, and the settings ``inspect conf`` shows."""

from __future__ import annotations

import time

import pytest
from taskora.compat import Celery
from taskora.compat.app._bugreport import sanitize_url
from taskora.compat.app.config import Settings
from taskora.compat.utils.collections import LimitedSet
from taskora.compat.worker import state as worker_state


@pytest.mark.parametrize(("url", "shown"), [
    ("cache+memcached://172.19.26.240:11211;172.19.26.242:11211/",
     "cache+memcached://172.19.26.240:11211;172.19.26.242:11211/"),
    ("sentinel://:secret1@h1:26379;sentinel://:secret2@h2:26379/0",
     "sentinel://:********@h1:26379;sentinel://:********@h2:26379/0"),
    ("sentinel://:secret@h1:26379;h2:26379/0", "sentinel://:********@h1:26379;h2:26379/0"),
    ("redis://:p,ass@word@localhost:6379/0", "redis://:********@localhost:6379/0"),
    ("redis://user:p,a@ss@localhost:6379/0", "redis://user:********@localhost:6379/0"),
    ("redis://user:secret@localhost:6379?a=1;b=2", "redis://user:********@localhost:6379?a=1;b=2"),
])  # fmt: skip
def test_sanitize_url_masks_every_password_of_multi_server_urls(url, shown):
    assert sanitize_url(url) == shown


def test_sanitize_url_leaves_what_is_not_a_url():
    assert sanitize_url(None) is None and sanitize_url("disabled") == "disabled" and sanitize_url(3) == 3


def test_bugreport_masks_the_result_backend_in_both_places():
    app = Celery("report", broker="memory://")
    try:
        app.conf.result_backend = "sentinel://:secret1@h1:26379;sentinel://:secret2@h2:26379/0"
        report = app.bugreport()
        assert "secret1" not in report and "secret2" not in report
        assert "results:sentinel://:********@h1:26379;sentinel://:********@h2:26379/0" in report
        assert "result_backend: 'sentinel://:********@h1:26379;sentinel://:********@h2:26379/0'" in report
        assert report.lstrip().startswith("software -> celery:") and "loader   -> taskora.compat" in report
    finally:
        app.close()


def test_table_without_defaults_keeps_the_added_defaults_and_lists_deprecated_keys():
    conf = Settings({"CELERY_TASK_SERIALIZER": "json", "CELERY_IGNORE_RESULT": True})
    conf.add_defaults({"worker_hijack_root_logger": False})
    table = conf.table()
    assert table["worker_hijack_root_logger"] is False and table["task_ignore_result"] is True
    assert table["deprecated_settings"] == ["CELERY_IGNORE_RESULT", "CELERY_TASK_SERIALIZER"]
    assert "task_acks_late" not in table and Settings({}).table() == {"deprecated_settings": []}


def test_limited_set_stamps_on_the_monotonic_clock():
    members = LimitedSet(expires=60)
    members.add("a")
    assert abs(members.as_dict()["a"] - time.monotonic()) < 5


def test_merge_revoked_takes_ids_and_drops_their_foreign_stamps():
    ahead = time.monotonic() + 10**6
    try:
        worker_state.merge_revoked({"x1": [ahead, 0, "x1"], "x2": [ahead, 1, "x2"]})
        stamps = worker_state.revoked.as_dict()
        assert stamps["x1"] <= time.monotonic() and stamps["x2"] <= time.monotonic()
        worker_state.merge_revoked(None)  # nothing to take
    finally:
        worker_state.revoked.discard("x1")
        worker_state.revoked.discard("x2")
