"""``-A`` resolution: turn ``module``, ``module:attr`` or ``package`` into the app to run.

Celery's rules: with an attribute, use it (calling it when it is a factory); without one, look for
``app``, ``taskora`` or ``celery`` in the module, then a ``celery`` submodule of a package, then the
single app instance among the module's globals. A compat ``Celery`` app is recognised without
importing compat: anything with ``__taskora_app__`` (a Taskora, or a zero-arg callable returning one).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import click

from ..app import Taskora
from ._output import AppLoadError

#: Attribute names tried, in order, when ``-A`` names only a module.
APP_NAMES = ("app", "taskora", "celery")


@dataclass
class LoadedApp:
    """The native app to run, and the object ``-A`` named (a Taskora, or e.g. a compat Celery app)."""

    app: Taskora
    source: Any
    spec: str

    def worker_init(self, **info: Any) -> None:
        """Let a front-end prepare for a worker (compat fires ``worker_init`` / ``celeryd_init``)."""
        hook = getattr(self.source, "__taskora_worker_init__", None)
        if callable(hook):
            hook(**info)


def is_app_like(obj: Any) -> bool:
    return isinstance(obj, Taskora) or (not isinstance(obj, type) and hasattr(obj, "__taskora_app__"))


def to_taskora(obj: Any, spec: str) -> Taskora:
    """The Taskora behind ``obj``: itself, or what its ``__taskora_app__`` holds or returns."""
    if isinstance(obj, Taskora):
        return obj
    inner = getattr(obj, "__taskora_app__", None)
    if callable(inner) and not isinstance(inner, Taskora):
        inner = inner()
    if not isinstance(inner, Taskora):
        raise AppLoadError(f"-A {spec}: {obj!r} is not a taskora app (expected a Taskora or an object whose "
                           f"__taskora_app__ gives one)")
    return inner


def load_app(spec: str | None) -> LoadedApp:
    """Import and resolve ``spec``; every failure is an AppLoadError with a one-line message."""
    if not spec:
        spec = os.environ.get("TASKORA_APP") or ""
        if not spec:
            raise AppLoadError("no app given: pass -A module[:attr] (or set TASKORA_APP)")
    _cwd_on_path()
    module_name, _, attr = spec.partition(":")
    module = _import(module_name, spec)
    obj = _attribute(module, attr, spec) if attr else _find_in_module(module, spec)
    return LoadedApp(to_taskora(obj, spec), obj, spec)


def _cwd_on_path() -> None:
    """``celery -A proj`` imports from the current directory; so do we."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _import(name: str, spec: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise AppLoadError(f"-A {spec}: no module named {exc.name!r}") from None
        raise AppLoadError(f"-A {spec}: importing {name!r} failed: {_last_frame(exc)}") from exc
    except Exception as exc:  # any error while the user's module runs: report it on one line
        raise AppLoadError(f"-A {spec}: importing {name!r} failed: {_last_frame(exc)}") from exc


def _last_frame(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _attribute(module: ModuleType, attr: str, spec: str) -> Any:
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError(f"-A {spec}: module {module.__name__!r} has no attribute {attr!r}") from None
    if not is_app_like(obj) and callable(obj):  # a factory: proj:create_app
        obj = obj()
    if not is_app_like(obj):
        raise AppLoadError(f"-A {spec}: {attr!r} is {type(obj).__name__}, not a taskora or Celery app")
    return obj


def _find_in_module(module: ModuleType, spec: str) -> Any:
    for name in APP_NAMES:
        obj = getattr(module, name, None)
        if is_app_like(obj):
            return obj
    if hasattr(module, "__path__"):  # a package: Celery also tries proj.celery
        try:
            sub = importlib.import_module(f"{module.__name__}.celery")
        except ModuleNotFoundError as exc:
            if exc.name != f"{module.__name__}.celery":
                raise AppLoadError(f"-A {spec}: importing {module.__name__}.celery failed: {exc}") from exc
        else:
            return _find_in_module(sub, spec)
    found = {id(v): v for v in vars(module).values() if is_app_like(v)}
    if len(found) == 1:
        return next(iter(found.values()))
    if found:
        raise AppLoadError(f"-A {spec}: module {module.__name__!r} holds {len(found)} apps; name one as "
                           f"{module.__name__}:attr")
    raise AppLoadError(f"-A {spec}: no app found in module {module.__name__!r} (looked for "
                       f"{', '.join(APP_NAMES)} or a single Taskora/Celery instance)")


def app_option(fn: Any) -> Any:
    """``-A/--app`` on a subcommand (it also works before the subcommand)."""
    return click.option("-A", "--app", "app_spec", metavar="MODULE[:ATTR]", default=None,
                        help="The app: a module, module:attr or package.")(fn)


def process_options(fn: Any) -> Any:
    """``--pidfile``, ``-f/--logfile`` and ``--detach``, shared by the long-running commands (worker, beat)."""
    fn = click.option("--detach", is_flag=True, help="Run in the background (needs --logfile).")(fn)
    fn = click.option("-f", "--logfile", default=None)(fn)
    return click.option("--pidfile", default=None)(fn)


def json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, default=False, help="Machine-readable output.")(fn)


def resolve(ctx: Any, app_spec: str | None) -> LoadedApp:
    """Load the app named here or before the subcommand."""
    root = ctx.find_root().obj
    return load_app(app_spec or getattr(root, "app_spec", None))


def wants_json(ctx: Any, as_json: bool) -> bool:
    return as_json or bool(getattr(ctx.find_root().obj, "as_json", False))
