"""Celery's ``app.conf`` semantics: names old and new, defaults, sources, namespaces, env overrides."""

from __future__ import annotations

import sys
import types
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from taskora.compat.app.config import DEFAULTS, NEW_TO_OLD, OLD_TO_NEW, Settings, check_mixing
from taskora.compat.exceptions import ImproperlyConfigured


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Write a uniquely named module on a temporary sys.path entry; return its import name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(source: str) -> str:
        name = f"celeryconfig_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(source)
        return name

    return make


# --- defaults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("task_serializer", "json"),
        ("result_serializer", "json"),
        ("timezone", None),
        ("enable_utc", True),
        ("task_default_queue", "celery"),
        ("task_default_retry_delay", 180),
        ("task_max_retries", 3),
        ("result_expires", timedelta(days=1)),
        ("task_acks_late", False),
        ("task_track_started", False),
        ("task_ignore_result", False),
        ("task_always_eager", False),
        ("task_eager_propagates", False),
        ("task_create_missing_queues", True),
        ("worker_prefetch_multiplier", 4),
        ("worker_concurrency", None),
        ("broker_transport_options", {}),
        ("broker_url", None),
        ("result_backend", None),
        ("task_routes", None),
        ("beat_schedule", {}),
    ],
)
def test_defaults(name: str, value: Any) -> None:
    assert getattr(Settings(), name) == value
    assert Settings()[name] == value


def test_accept_content_default_is_json_only() -> None:
    assert list(Settings().accept_content) == ["json"]


def test_mutable_defaults_are_not_shared_between_apps() -> None:
    first, second = Settings(), Settings()
    first.broker_transport_options["visibility_timeout"] = 10
    assert second.broker_transport_options == {}
    assert DEFAULTS["broker_transport_options"] == {}


# --- mapping and attribute access ----------------------------------------------------------------------


def test_attribute_item_update_get_and_contains() -> None:
    conf = Settings()
    conf.update({"task_serializer": "pickle"}, result_serializer="pickle")
    conf["task_default_queue"] = "default"
    conf.worker_concurrency = 8
    assert (conf.task_serializer, conf["result_serializer"]) == ("pickle", "pickle")
    assert conf.get("task_default_queue") == "default" and conf.worker_concurrency == 8
    assert conf.get("nope", "fallback") == "fallback"
    assert "task_serializer" in conf and "nope" not in conf
    with pytest.raises(KeyError):
        conf["nope"]
    with pytest.raises(AttributeError):
        conf.nope  # noqa: B018 - attribute read is the behaviour under test


def test_setdefault_sets_unknown_keys_but_keeps_existing_values() -> None:
    conf = Settings()
    assert conf.setdefault("task_default_queue", "other") == "celery"  # a default counts as set
    assert conf.setdefault("my_flag", True) is True
    assert conf.my_flag is True


def test_iteration_lists_known_and_unknown_settings() -> None:
    conf = Settings({"custom_thing": 1})
    names = list(conf)
    assert "task_serializer" in names and "custom_thing" in names
    assert len(conf) == len(names) == len(set(names))
    assert dict(conf.items())["custom_thing"] == 1


def test_delete_removes_a_write() -> None:
    conf = Settings({"task_default_queue": "x"})
    del conf["task_default_queue"]
    assert conf.task_default_queue == "celery"
    with pytest.raises(KeyError):
        del conf["never_set"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("BROKER_URL", "broker_url"),
        ("CELERY_RESULT_BACKEND", "result_backend"),
        ("CELERY_TASK_SERIALIZER", "task_serializer"),
        ("CELERY_ACCEPT_CONTENT", "accept_content"),
        ("CELERY_ALWAYS_EAGER", "task_always_eager"),
        ("CELERY_EAGER_PROPAGATES_EXCEPTIONS", "task_eager_propagates"),
        ("CELERY_TASK_RESULT_EXPIRES", "result_expires"),
        ("CELERY_DEFAULT_QUEUE", "task_default_queue"),
        ("CELERY_ROUTES", "task_routes"),
        ("CELERY_QUEUES", "task_queues"),
        ("CELERY_TRACK_STARTED", "task_track_started"),
        ("CELERY_ACKS_LATE", "task_acks_late"),
        ("CELERY_TIMEZONE", "timezone"),
        ("ENABLE_UTC", "enable_utc"),
        ("CELERY_IMPORTS", "imports"),
        ("CELERYD_CONCURRENCY", "worker_concurrency"),
        ("CELERYD_PREFETCH_MULTIPLIER", "worker_prefetch_multiplier"),
        ("CELERYD_MAX_TASKS_PER_CHILD", "worker_max_tasks_per_child"),
        ("CELERYD_TASK_TIME_LIMIT", "task_time_limit"),
        ("CELERYD_TASK_SOFT_TIME_LIMIT", "task_soft_time_limit"),
        ("CELERY_SEND_EVENTS", "worker_send_task_events"),
        ("CELERY_DISABLE_RATE_LIMITS", "worker_disable_rate_limits"),
        ("CELERY_MAX_CACHED_RESULTS", "result_cache_max"),
        ("CELERYBEAT_SCHEDULE", "beat_schedule"),
        ("BROKER_TRANSPORT_OPTIONS", "broker_transport_options"),
        ("CELERY_REDIS_MAX_CONNECTIONS", "redis_max_connections"),
    ],
)
def test_old_name_is_an_alias_of_the_new_one(old: str, new: str) -> None:
    assert OLD_TO_NEW[old] == new and NEW_TO_OLD[new] == old
    conf = Settings()
    setattr(conf, old, "value-1")
    assert conf[new] == "value-1"
    conf[new] = "value-2"
    assert getattr(conf, old) == "value-2" and conf[old] == "value-2"


def test_old_to_new_table_is_one_to_one() -> None:
    assert len(OLD_TO_NEW) == len(NEW_TO_OLD)
    assert set(OLD_TO_NEW.values()) <= set(DEFAULTS)


def test_unknown_settings_are_accepted_silently() -> None:
    conf = Settings({"my_project_flag": "on"})
    conf.config_from_object({"ANOTHER_CUSTOM": 1, "task_serializer": "json"})
    assert conf.my_project_flag == "on" and conf.ANOTHER_CUSTOM == 1


# --- config_from_object -----------------------------------------------------------------------------


def test_from_module_path(make_module: Any) -> None:
    name = make_module("broker_url = 'redis://h:6379/1'\ntask_default_queue = 'work'\n_private = 1\n")
    conf = Settings()
    conf.config_from_object(name)
    assert conf.broker_url == "redis://h:6379/1" and conf.task_default_queue == "work"
    assert "_private" not in conf


def test_from_module_colon_attribute_and_dotted_attribute(make_module: Any) -> None:
    name = make_module("class Config:\n    task_serializer = 'pickle'\n    worker_concurrency = 2\n")
    by_colon, by_dot = Settings(), Settings()
    by_colon.config_from_object(f"{name}:Config")
    by_dot.config_from_object(f"{name}.Config")
    assert by_colon.task_serializer == by_dot.task_serializer == "pickle"
    assert by_colon.worker_concurrency == 2


def test_from_module_object_class_instance_and_dict() -> None:
    module = types.ModuleType("cfg_module")
    module.task_acks_late = True  # type: ignore[attr-defined]

    class Config:
        task_track_started = True

    for source, name in [(module, "task_acks_late"), (Config, "task_track_started"), (Config(), "task_track_started")]:
        conf = Settings()
        conf.config_from_object(source)
        assert conf[name] is True
    conf = Settings()
    conf.config_from_object({"result_expires": 60})
    assert conf.result_expires == 60


def test_loading_is_lazy_and_silent_ignores_missing_modules() -> None:
    calls: list[Settings] = []
    conf = Settings(on_configure=calls.append)
    assert conf.config_from_object("no_such_module_xyz.config") is True  # nothing imported yet
    assert not conf.configured and calls == []
    with pytest.raises(ImportError):
        conf.task_serializer  # noqa: B018 - the first read loads the source
    silent = Settings(on_configure=calls.append)
    silent.config_from_object("no_such_module_xyz.config", silent=True)
    assert silent.task_serializer == "json" and calls == [silent]
    assert Settings().config_from_object("no_such_module_xyz", silent=True, force=True) is False


def test_a_failing_import_inside_the_config_module_propagates(make_module: Any) -> None:
    name = make_module("import module_that_does_not_exist_abc\n")
    conf = Settings()
    with pytest.raises(ModuleNotFoundError, match="module_that_does_not_exist_abc"):
        conf.config_from_object(name, force=True)


def test_on_configure_runs_once_after_the_first_read() -> None:
    calls: list[Settings] = []
    conf = Settings(on_configure=calls.append)
    conf.config_from_object({"task_serializer": "json"})
    conf.task_default_queue = "q"  # a write does not load
    assert calls == []
    assert conf.task_default_queue == "q"
    conf.get("broker_url")
    assert calls == [conf] and conf.configured


def test_precedence_constructor_and_early_writes_beat_the_source_defaults_lowest() -> None:
    conf = Settings({"task_default_queue": "from-constructor"})
    conf.task_serializer = "msgpack"  # before the source is read
    conf.add_defaults({"worker_concurrency": 3, "my_default": "d"})
    conf.config_from_object(
        {"task_default_queue": "from-source", "task_serializer": "yaml", "result_serializer": "pickle"}
    )
    assert conf.task_default_queue == "from-constructor"
    assert conf.task_serializer == "msgpack"
    assert conf.result_serializer == "pickle"
    assert conf.worker_concurrency == 3 and conf.my_default == "d"  # add_defaults beat built-in defaults


def test_add_defaults_callable_is_evaluated_lazily() -> None:
    calls: list[int] = []

    def defaults() -> dict[str, Any]:
        calls.append(1)
        return {"task_default_queue": "lazy"}

    conf = Settings()
    conf.add_defaults(defaults)
    assert calls == []
    assert conf.task_default_queue == "lazy" and calls == [1]


def test_reloading_drops_later_writes_but_keeps_constructor_values() -> None:
    conf = Settings({"task_default_queue": "ctor"})
    conf.config_from_object({"task_serializer": "json"})
    conf.finalize()
    conf.worker_concurrency = 16  # written after the load
    conf.config_from_object({"task_serializer": "pickle"})
    assert conf.task_serializer == "pickle"
    assert conf.worker_concurrency is None
    assert conf.task_default_queue == "ctor"


def test_changes_lists_explicit_writes_under_new_names() -> None:
    conf = Settings({"CELERY_ALWAYS_EAGER": True})
    assert conf.changes == {"task_always_eager": True}
    conf.finalize()
    conf.broker_url = "redis://"
    assert conf.changes == {"task_always_eager": True, "broker_url": "redis://"}


def test_config_from_envvar(make_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROJ_CONFIG_MODULE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="PROJ_CONFIG_MODULE"):
        Settings().config_from_envvar("PROJ_CONFIG_MODULE")
    assert Settings().config_from_envvar("PROJ_CONFIG_MODULE", silent=True) is False
    monkeypatch.setenv("PROJ_CONFIG_MODULE", make_module("task_default_queue = 'env-q'\n"))
    conf = Settings()
    conf.config_from_envvar("PROJ_CONFIG_MODULE")
    assert conf.task_default_queue == "env-q"


# --- Django namespace -----------------------------------------------------------------------------------


@pytest.fixture
def django_settings(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """A stand-in for ``django.conf.settings`` reachable as ``'<module>:settings'``."""
    settings = types.SimpleNamespace(
        DEBUG=True,
        TIME_ZONE="Europe/Paris",
        CELERY_BROKER_URL="redis://django:6379/0",
        CELERY_RESULT_BACKEND="redis://django:6379/1",
        CELERY_TASK_ALWAYS_EAGER=True,
        CELERY_BEAT_SCHEDULE={"tick": {"task": "proj.tick", "schedule": 30.0}},
        CELERY_WORKER_CONCURRENCY=4,
        CELERY_CUSTOM_FLAG="x",
        task_serializer="pickle",  # un-prefixed new name: a fallback
        BROKER_TRANSPORT_OPTIONS={"visibility_timeout": 7200},  # old alias: a fallback too
    )
    module = types.ModuleType("fake_django_conf")
    module.settings = settings  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_django_conf", module)
    return settings


def test_django_namespace_maps_prefixed_names(django_settings: types.SimpleNamespace) -> None:
    conf = Settings()
    conf.config_from_object("fake_django_conf:settings", namespace="CELERY")
    assert conf.broker_url == "redis://django:6379/0"
    assert conf.result_backend == "redis://django:6379/1"
    assert conf.task_always_eager is True
    assert conf.beat_schedule == {"tick": {"task": "proj.tick", "schedule": 30.0}}
    assert conf.worker_concurrency == 4
    assert conf.custom_flag == "x" and conf.DEBUG is True  # other attributes stay visible


def test_django_namespace_fallbacks(django_settings: types.SimpleNamespace) -> None:
    conf = Settings(namespace="CELERY")
    conf.config_from_object("fake_django_conf:settings")
    assert conf.timezone == "Europe/Paris"  # Django's TIME_ZONE when CELERY_TIMEZONE is absent
    assert conf.task_serializer == "pickle"  # un-prefixed new name
    assert conf.broker_transport_options == {"visibility_timeout": 7200}  # old alias
    django_settings.CELERY_TIMEZONE = "UTC"
    django_settings.CELERY_TASK_SERIALIZER = "json"
    conf.config_from_object("fake_django_conf:settings", namespace="CELERY")
    assert conf.timezone == "UTC" and conf.task_serializer == "json"  # the prefixed name wins


def test_django_old_alias_spelling_is_a_fallback_under_the_namespace() -> None:
    conf = Settings()
    conf.config_from_object({"CELERY_ALWAYS_EAGER": True, "CELERY_BROKER_URL": "redis://b"}, namespace="CELERY")
    assert conf.task_always_eager is True and conf.broker_url == "redis://b"


def test_without_namespace_prefixed_new_names_are_unknown() -> None:
    conf = Settings()
    conf.config_from_object({"CELERY_TASK_ALWAYS_EAGER": True})
    assert conf.task_always_eager is False  # Celery ignores it: not a setting name without a namespace
    assert conf.CELERY_TASK_ALWAYS_EAGER is True


# --- environment overrides -----------------------------------------------------------------------------


def test_env_broker_url_beats_constructor_and_source(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = Settings({"broker_url": "redis://ctor"})
    conf.config_from_object({"broker_url": "redis://source"})
    assert conf.broker_url == "redis://ctor"
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://env")
    assert conf.broker_url == "redis://env"
    assert conf["broker_url"] == "redis://ctor"  # item access is the stored value, as in Celery
    assert conf.effective().broker_url == "redis://env"


def test_env_result_backend_and_read_write_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = Settings({"result_backend": "redis://conf", "broker_url": "redis://b"})
    assert conf.broker_read_url == conf.broker_write_url == "redis://b"  # fall back to broker_url
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "redis://env-backend")
    monkeypatch.setenv("CELERY_BROKER_READ_URL", "redis://reader")
    assert conf.result_backend == "redis://env-backend" and conf.broker_read_url == "redis://reader"
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "")  # empty does not override
    assert conf.result_backend == "redis://conf"


def test_default_exchange_and_routing_key_follow_the_default_queue() -> None:
    conf = Settings({"task_default_queue": "work"})
    assert conf.task_default_exchange == "work" and conf.task_default_routing_key == "work"


# --- the source read live (Django's override_settings) -------------------------------------------------------


class _SettingsLike:
    """Stands for ``django.conf.settings``: an object whose attributes a test overrides and restores."""

    CELERY_BROKER_URL = "redis://h/0"
    TIME_ZONE = "Europe/Paris"


def test_source_is_read_live_so_an_override_takes_effect_and_is_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = Settings()
    conf.config_from_object(_SettingsLike, namespace="CELERY")
    assert conf.task_always_eager is False and conf.broker_url == "redis://h/0"
    with monkeypatch.context() as patch:  # what override_settings(CELERY_TASK_ALWAYS_EAGER=True, ...) does
        patch.setattr(_SettingsLike, "CELERY_TASK_ALWAYS_EAGER", True, raising=False)
        patch.setattr(_SettingsLike, "CELERY_RESULT_EXPIRES", 5, raising=False)
        patch.setattr(_SettingsLike, "TIME_ZONE", "Asia/Tokyo")
        assert conf.task_always_eager is True and conf["result_expires"] == 5
        assert conf.effective().result_expires == 5.0 and conf.timezone == "Asia/Tokyo"
    assert conf.task_always_eager is False and conf.result_expires == timedelta(days=1)
    assert conf.timezone == "Europe/Paris"


def test_writes_through_conf_still_beat_the_live_source(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = Settings()
    conf.config_from_object(_SettingsLike, namespace="CELERY")
    conf.task_always_eager = True
    monkeypatch.setattr(_SettingsLike, "CELERY_TASK_ALWAYS_EAGER", False, raising=False)
    assert conf.task_always_eager is True


def test_live_source_keeps_the_precedence_of_spellings() -> None:
    source = {"result_expires": 10, "CELERY_TASK_RESULT_EXPIRES": 99}
    conf = Settings()
    conf.config_from_object(source)
    assert conf.result_expires == 10
    del source["result_expires"]
    assert conf.result_expires == 99


# --- mixing old and new names ----------------------------------------------------------------------


def test_mixing_old_into_new_raises_with_renames() -> None:
    conf = Settings()
    conf.config_from_object({"broker_url": "redis://", "result_backend": "redis://", "CELERY_ALWAYS_EAGER": True})
    with pytest.raises(ImproperlyConfigured, match="Cannot mix new and old setting keys") as info:
        conf.task_always_eager  # noqa: B018 - loading happens on the first read
    assert "CELERY_ALWAYS_EAGER" in str(info.value) and "task_always_eager" in str(info.value)


def test_mixing_tie_is_decided_for_the_new_names() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        check_mixing(["broker_url", "CELERY_ALWAYS_EAGER"])
    message = str(info.value)
    assert "CELERY_ALWAYS_EAGER" in message and "-> task_always_eager" in message
    assert "-> BROKER_URL" not in message


def test_mixing_new_into_old_majority_raises() -> None:
    with pytest.raises(ImproperlyConfigured, match="task_acks_late"):
        check_mixing(["BROKER_URL", "CELERY_RESULT_BACKEND", "task_acks_late"])


def test_mixing_is_allowed_when_counterparts_are_present() -> None:
    check_mixing(["result_expires", "CELERY_TASK_RESULT_EXPIRES", "broker_url"])
    check_mixing(["BROKER_URL", "CELERY_ALWAYS_EAGER", "broker_url"])
    check_mixing(["BROKER_URL", "CELERY_ALWAYS_EAGER", "some_unknown_lowercase"])


def test_all_old_config_works() -> None:
    conf = Settings()
    conf.config_from_object({"BROKER_URL": "redis://old", "CELERY_ALWAYS_EAGER": True, "CELERYD_CONCURRENCY": 2})
    assert (conf.broker_url, conf.task_always_eager, conf.worker_concurrency) == ("redis://old", True, 2)


def test_namespace_disables_the_mixing_check() -> None:
    conf = Settings()
    conf.config_from_object({"CELERY_BROKER_URL": "redis://", "CELERY_ALWAYS_EAGER": True}, namespace="CELERY")
    assert conf.task_always_eager is True


def test_mixing_in_constructor_values_without_a_source_raises() -> None:
    conf = Settings({"broker_url": "redis://", "CELERY_ALWAYS_EAGER": True})
    with pytest.raises(ImproperlyConfigured):
        conf.finalize()


def test_constructor_arguments_are_left_out_of_the_mixing_check() -> None:
    """Flask's pattern: ``Celery(broker=...)`` then ``conf.update(flask_app.config)`` holding the old
    ``CELERY_RESULT_BACKEND`` (and Flask's own keys). Celery 5.7 accepts it: its constructor values are
    not part of the one configuration source the check looks at."""
    from taskora.compat import Celery

    app = Celery("flaskish", broker="redis://b/0", set_as_current=False)
    app.conf.update({"CELERY_RESULT_BACKEND": "redis://r/1", "SECRET_KEY": "s", "TESTING": True, "DEBUG": False})
    assert (app.conf.result_backend, app.conf.broker_url) == ("redis://r/1", "redis://b/0")
    assert app.conf.effective().result_backend == "redis://r/1" and app.conf.SECRET_KEY == "s"
    app.close()


def test_constructor_keyword_settings_are_left_out_of_the_mixing_check_too() -> None:
    from taskora.compat import Celery

    app = Celery("kw", backend="redis://c/0", task_acks_late=True, set_as_current=False)
    app.conf.update({"CELERY_RESULT_BACKEND": "redis://a/1", "CELERY_ALWAYS_EAGER": True})
    assert (app.conf.result_backend, app.conf.task_always_eager, app.conf.task_acks_late) == ("redis://a/1", True, True)
    app.close()


def test_conf_update_mixing_names_still_raises_on_an_app() -> None:
    from taskora.compat import Celery

    app = Celery("mixed", set_as_current=False)
    app.conf.update({"CELERY_RESULT_BACKEND": "redis://a/1", "broker_url": "redis://b/0"})
    with pytest.raises(ImproperlyConfigured, match="CELERY_RESULT_BACKEND"):
        app.conf.result_backend  # noqa: B018 - loading happens on the first read
    app.close()


def test_a_source_is_checked_on_its_own_keys_only() -> None:
    from taskora.compat import Celery

    app = Celery("src", broker="redis://b/0", set_as_current=False)
    app.conf.task_serializer = "json"
    app.config_from_object({"CELERY_RESULT_BACKEND": "redis://a/1"})
    assert (app.conf.result_backend, app.conf.broker_url) == ("redis://a/1", "redis://b/0")
    app.close()


def test_new_name_wins_when_both_spellings_are_given() -> None:
    conf = Settings()
    conf.config_from_object({"result_expires": 10, "CELERY_TASK_RESULT_EXPIRES": 99})
    assert conf.result_expires == 10


# --- introspection and effective values ------------------------------------------------------------------


def test_table_and_humanize_hide_secrets() -> None:
    conf = Settings({"broker_url": "redis://user:s3cret@host:6379/0", "my_api_key": "k", "task_default_queue": "q"})
    table = conf.table()
    assert table["broker_url"] == "redis://user:********@host:6379/0"
    assert table["my_api_key"] == "********" and table["task_default_queue"] == "q"
    assert "task_serializer" not in table and "task_serializer" in conf.table(with_defaults=True)
    assert "s3cret" not in conf.humanize() and "task_default_queue: 'q'" in conf.humanize()
    assert conf.table(censored=False)["broker_url"] == "redis://user:s3cret@host:6379/0"


def test_effective_values() -> None:
    conf = Settings(
        {
            "broker_transport_options": {"visibility_timeout": 43200, "global_keyprefix": "app:"},
            "result_expires": timedelta(hours=2),
            "imports": ["proj.a"],
            "include": ("proj.b",),
            "task_default_priority": "5",
            "task_time_limit": 30,
            "accept_content": {"json"},
        }
    )
    eff = conf.effective()
    assert eff.visibility_timeout == 43200.0 and eff.key_prefix == "app:"
    assert eff.result_expires == 7200.0 and eff.include == ("proj.a", "proj.b")
    assert eff.task_default_priority == 5 and eff.task_time_limit == 30.0 and eff.task_soft_time_limit is None
    assert eff.accept_content == ("json",) and eff.timezone == "UTC" and eff.task_default_queue == "celery"


def test_effective_defaults_and_never_expiring_results() -> None:
    eff = Settings({"result_expires": 0, "enable_utc": False}).effective()
    assert eff.result_expires is None and eff.visibility_timeout == 3600.0 and eff.timezone is None
    assert Settings({"result_expires": None}).effective().result_expires is None
    assert Settings({"timezone": "Asia/Tokyo"}).effective().timezone == "Asia/Tokyo"


# --- result_expires in Redis ---------------------------------------------------------------------------------


def _finished_result(redis_url: str, monkeypatch: pytest.MonkeyPatch, fail: bool, **settings: Any) -> Any:
    """A task run to its end by a real worker on redis-server; returns (app, result)."""
    from taskora.compat import Celery

    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    app = Celery("expiry", broker=redis_url)
    app.conf.update(settings)  # not as constructor keywords: Celery ignores a keyword whose value is None

    @app.task
    def job():
        if fail:
            raise ValueError("boom")
        return "done"

    result = job.delay()
    app.__taskora_app__.start(concurrency=1)
    result.get(timeout=10, propagate=False)
    return app, result


def _trim_later(app: Any, seconds: float) -> None:
    """The worker's retention pass (what its maintenance loop runs every few seconds), ``seconds`` from now:
    the engine's clock is moved forward instead of the test waiting."""
    from taskora.clock import VirtualClock

    native = app.__taskora_app__
    native.close(timeout=5)
    adapter, kept = native.adapter, native.retention
    adapter.clock = VirtualClock(adapter.now_ms() + int(seconds * 1000))
    for name in native.tasks:
        adapter.trim(name, completed_age_ms=int(kept.completed_age * 1000), completed_count=kept.completed_count,
                     failed_age_ms=int(kept.failed_age * 1000), failed_count=kept.failed_count)


@pytest.mark.parametrize("expires", [None, 0])
def test_result_expires_none_keeps_results_forever(redis_url: str, monkeypatch: pytest.MonkeyPatch,
                                                   expires: Any) -> None:  # fmt: skip
    app, result = _finished_result(redis_url, monkeypatch, fail=False, result_expires=expires)
    _trim_later(app, 30 * 86400)  # the engine's own default would have dropped it after an hour
    assert app.AsyncResult(result.id).state == "SUCCESS" and app.AsyncResult(result.id).result == "done"
    app.close()


@pytest.mark.parametrize("fail", [False, True])
def test_result_expires_drops_successes_and_failures_alike(redis_url: str, monkeypatch: pytest.MonkeyPatch,
                                                           fail: bool) -> None:  # fmt: skip
    app, result = _finished_result(redis_url, monkeypatch, fail=fail, result_expires=timedelta(minutes=10))
    _trim_later(app, 5 * 60)
    assert app.AsyncResult(result.id).state == ("FAILURE" if fail else "SUCCESS")
    _trim_later(app, 11 * 60)  # as in Celery, an expired result reads PENDING
    assert app.AsyncResult(result.id).state == "PENDING"
    app.close()
