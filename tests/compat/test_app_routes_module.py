"""``celery.app.routes`` as a migrated project imports it: ``taskora.compat.app.routes``."""

from __future__ import annotations

from typing import Any

import pytest
from taskora.compat.app.routes import MapRoute, expand_router_string, prepare
from taskora.compat.exceptions import ImproperlyConfigured


def route_task(name: str, *args: Any, **kwargs: Any) -> dict[str, str] | None:
    """A router function, named by import path below."""
    return {"queue": "video"} if name.startswith("video.") else None


class OldStyleRouter:
    """Celery 3's router class: instantiated by expand_router_string."""

    def route_for_task(self, task: str, *args: Any, **kwargs: Any) -> dict[str, str]:
        return {"queue": "old"}


def test_map_route_and_prepare_route_as_task_routes_does() -> None:
    router = MapRoute({"proj.add": "math", "feed.*": {"queue": "feeds", "priority": 5}})
    assert router("proj.add") == {"queue": "math"}
    assert router("feed.fetch") == {"queue": "feeds", "priority": 5}
    assert router("proj.mul") is None
    assert [type(r) for r in prepare({"proj.add": "math"})] == [MapRoute]


def test_expand_router_string_imports_a_function_or_instantiates_a_router_class() -> None:
    assert expand_router_string(f"{__name__}.route_task") is route_task
    assert expand_router_string(f"{__name__}:route_task")("video.encode") == {"queue": "video"}
    assert isinstance(expand_router_string(f"{__name__}:OldStyleRouter"), OldStyleRouter)


def test_expand_router_string_names_a_path_that_does_not_import() -> None:
    with pytest.raises(ImproperlyConfigured, match="cannot import router 'proj.no_such_module:route'"):
        expand_router_string("proj.no_such_module:route")
