"""Celery's routing precedence: call options > task options > task_routes > task_default_queue."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from kombu import Exchange, Queue
from taskora.compat.app.config import Settings
from taskora.compat.app.routing import MapRoute, Router, glob_to_re, queue_specs, validate_routes
from taskora.compat.exceptions import ImproperlyConfigured, QueueNotFound


def _queue(settings: dict[str, Any], name: str, **kw: Any) -> str:
    return Router(settings).route(name, **kw)["queue"]


# --- task_routes forms ---------------------------------------------------------------------------------


def test_unrouted_task_goes_to_the_default_queue() -> None:
    assert _queue({}, "proj.tasks.add") == "celery"
    assert _queue({"task_default_queue": "default"}, "proj.tasks.add") == "default"


def test_dict_router_exact_names_with_string_or_dict_routes() -> None:
    routes = {"proj.tasks.add": "math", "proj.tasks.resize": {"queue": "images", "priority": 3}}
    router = Router({"task_routes": routes})
    assert router.route("proj.tasks.add") == {"queue": "math"}
    assert router.route("proj.tasks.resize") == {"queue": "images", "priority": 3}
    assert router.route("proj.tasks.other") == {"queue": "celery"}


def test_glob_routes_match_from_the_start_of_the_name() -> None:
    routes = {"feed.tasks.*": {"queue": "feeds"}}
    assert _queue({"task_routes": routes}, "feed.tasks.import_feed") == "feeds"
    assert _queue({"task_routes": routes}, "other.feed.tasks.import_feed") == "celery"
    assert _queue({"task_routes": routes}, "feed.tasks.") == "celery"  # `*` needs at least one character
    assert _queue({"task_routes": {"a.b*": "q"}}, "aXb1") == "celery"  # dots are literal
    assert _queue({"task_routes": {"*": "everything"}}, "x") == "everything"
    assert re.match(glob_to_re("feed.*"), "feed.a.b")


def test_exact_name_beats_an_earlier_glob_and_globs_go_in_order() -> None:
    routes = {"proj.*": "broad", "proj.tasks.*": "narrow", "proj.tasks.add": "exact"}
    assert _queue({"task_routes": routes}, "proj.tasks.add") == "exact"
    assert _queue({"task_routes": routes}, "proj.tasks.mul") == "broad"  # first matching pattern wins


def test_compiled_regex_keys() -> None:
    routes = {re.compile(r"(video|image)\.tasks\..*"): {"queue": "media"}}
    assert _queue({"task_routes": routes}, "video.tasks.encode") == "media"
    assert _queue({"task_routes": routes}, "audio.tasks.encode") == "celery"


def test_list_of_pattern_route_pairs() -> None:
    routes = (
        [
            ("feed.tasks.*", {"queue": "feeds"}),
            ("web.tasks.*", {"queue": "web"}),
            (re.compile(r"(video|image)\.tasks\..*"), {"queue": "media"}),
        ],
    )
    settings = {"task_routes": routes}
    assert [_queue(settings, n) for n in ("feed.tasks.a", "web.tasks.b", "image.tasks.c", "x.y")] == [
        "feeds",
        "web",
        "media",
        "celery",
    ]


def test_router_functions_are_asked_in_order_with_celerys_arguments() -> None:
    calls: list[tuple[Any, ...]] = []

    def first(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
        calls.append((name, args, kwargs, options, task))
        return None  # no opinion: ask the next router

    def second(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
        return "from-function" if kwargs.get("big") else None

    task = object()
    router = Router({"task_routes": [first, second, {"proj.add": "from-map"}]})
    assert router.route("proj.add", (1,), {"big": True}, {"priority": 2}, task=task)["queue"] == "from-function"
    assert calls == [("proj.add", (1,), {"big": True}, {"priority": 2}, task)]
    assert router.route("proj.add", (1,), {})["queue"] == "from-map"


def test_celery3_router_object_with_route_for_task() -> None:
    class LegacyRouter:
        def route_for_task(self, task: str, args: Any = None, kwargs: Any = None) -> Any:
            return {"queue": "legacy"} if task.startswith("old.") else None

    assert _queue({"task_routes": (LegacyRouter(),)}, "old.job") == "legacy"
    assert _queue({"task_routes": (LegacyRouter(),)}, "new.job") == "celery"


def test_router_given_by_import_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"routers_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "def route_task(name, args, kwargs, options, task=None, **kw):\n"
        "    return 'imported' if name == 'a' else None\n"
        "class Legacy:\n"
        "    def route_for_task(self, task, args=None, kwargs=None):\n"
        "        return 'legacy'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    router = Router({"task_routes": [f"{module}.route_task", f"{module}:Legacy"]})
    assert router.route("a")["queue"] == "imported"
    assert router.route("b")["queue"] == "legacy"


# --- precedence ----------------------------------------------------------------------------------


def test_task_queue_beats_task_routes_and_call_option_beats_both() -> None:
    router = Router({"task_routes": {"proj.add": "routed"}})
    assert router.route("proj.add", task_queue="decorated")["queue"] == "decorated"
    assert router.route("proj.add", task_options={"queue": "decorated"})["queue"] == "decorated"
    assert router.route("proj.add", options={"queue": "explicit"}, task_queue="decorated")["queue"] == "explicit"
    assert router.route("proj.add", task_options={"queue": None})["queue"] == "routed"  # None means unset


def test_route_values_only_fill_unset_options() -> None:
    router = Router({"task_routes": {"proj.add": {"queue": "video", "priority": 5, "routing_key": "video.x"}}})
    out = router.route("proj.add", options={"priority": 1, "countdown": 10}, task_options={"routing_key": "mine"})
    assert out == {"queue": "video", "priority": 1, "routing_key": "mine", "countdown": 10}


def test_route_name_option_is_used_for_the_lookup() -> None:
    router = Router({"task_routes": {"alias.name": "aliased"}})
    out = router.route("real.name", options={"route_name": "alias.name"})
    assert out == {"queue": "aliased"}


def test_inputs_are_not_mutated() -> None:
    options = {"priority": 3}
    task_options = {"queue": None, "priority": 9}
    Router({"task_routes": {"x": "q"}}).route("x", options=options, task_options=task_options)
    assert options == {"priority": 3} and task_options == {"queue": None, "priority": 9}


def test_router_reads_a_settings_object_with_old_names() -> None:
    conf = Settings()
    conf.config_from_object({"CELERY_ROUTES": {"proj.add": "old-style"}, "CELERY_DEFAULT_QUEUE": "dflt"})
    router = Router(conf)
    assert router.route("proj.add")["queue"] == "old-style"
    assert router.route("proj.mul")["queue"] == "dflt"


# --- queues ------------------------------------------------------------------------------------------


def test_kombu_queues_are_declared_and_usable_as_routes() -> None:
    video = Queue("video", Exchange("media", type="direct"), routing_key="media.video", max_priority=10)
    settings = {
        "task_queues": [Queue("default"), video],
        "task_routes": {"proj.encode": video, "proj.thumb": {"queue": video}},
    }
    specs = queue_specs(settings)
    assert set(specs) == {"default", "video"}
    assert (specs["video"].exchange, specs["video"].routing_key, specs["video"].max_priority) == (
        "media",
        "media.video",
        10,
    )
    router = Router(settings)
    assert router.route("proj.encode")["queue"] == "video"
    assert router.route("proj.thumb")["queue"] == "video"
    assert router.route("proj.other", options={"queue": Queue("adhoc")})["queue"] == "adhoc"


def test_task_queues_as_a_dict() -> None:
    specs = queue_specs({"task_queues": {"feeds": {"exchange": "feeds", "routing_key": "feed.#"}}})
    assert specs["feeds"].routing_key == "feed.#" and specs["feeds"].exchange == "feeds"


def test_unknown_queue_is_created_unless_create_missing_queues_is_off() -> None:
    declared = {"task_queues": [Queue("default")], "task_default_queue": "default"}
    assert _queue(declared, "t", options={"queue": "adhoc"}) == "adhoc"
    strict = dict(declared, task_create_missing_queues=False)
    assert _queue(strict, "t", options={"queue": "default"}) == "default"
    assert _queue(strict, "t") == "default"
    with pytest.raises(QueueNotFound, match="adhoc") as info:
        _queue(strict, "t", options={"queue": "adhoc"})
    assert isinstance(info.value, KeyError)
    with pytest.raises(QueueNotFound):
        _queue({"task_queues": [Queue("only")], "task_create_missing_queues": False}, "t")  # default 'celery'


def test_routing_key_only_routes_reach_the_bound_queue() -> None:
    topic = Exchange("tasks", type="topic")
    settings = {
        "task_queues": [Queue("default", topic, routing_key="task.#"), Queue("feeds", topic, routing_key="feed.*")],
        "task_default_queue": "default",
        "task_routes": {"feeds.import": {"exchange": "tasks", "routing_key": "feed.import"}},
    }
    router = Router(settings)
    assert router.route("feeds.import")["queue"] == "feeds"
    assert router.route("x", options={"routing_key": "task.anything.deep"})["queue"] == "default"
    assert router.route("x", options={"routing_key": "feed.a.b"})["queue"] == "default"  # `*` is one word
    direct = {"task_queues": [Queue("a", routing_key="ka"), Queue("b", routing_key="kb")]}
    assert _queue(direct, "x", options={"routing_key": "kb"}) == "b"


# --- validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "named"),
    [
        ([("feed.tasks.*", {"queue": "feeds"})], "task_routes[0]"),  # pairs must be wrapped in a list
        ({"proj.add": 42}, "'proj.add'"),
        ({"proj.add": {"queue": 3}}, "'proj.add'"),
        ({42: "q"}, "42"),
        ([{"a": "q"}, 42], "task_routes[1]"),
        ("no_such_module_routes.route", "no_such_module_routes.route"),
    ],
)
def test_validate_routes_names_the_bad_entry(routes: Any, named: str) -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        validate_routes({"task_routes": routes})
    assert named in str(info.value)


def test_validate_routes_checks_task_queues_and_returns_the_router() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"task_queues\[1\]"):
        validate_routes({"task_queues": [Queue("a"), 42]})
    router = validate_routes({"task_routes": {"a": "q"}, "task_queues": [Queue("q")]})
    assert isinstance(router, Router) and router.route("a")["queue"] == "q"


def test_router_function_returning_junk_fails_clearly() -> None:
    router = Router({"task_routes": [lambda name, args, kwargs, options, task=None, **kw: 42]})
    with pytest.raises(ImproperlyConfigured, match=r"task_routes\[0\]"):
        router.route("x")


def test_map_route_is_a_router_function() -> None:
    route = MapRoute({"a": "q"})
    assert route("a", (), {}, {}, task=None) == {"queue": "q"} and route("b") is None
