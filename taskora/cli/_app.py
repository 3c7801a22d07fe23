"""``-A`` resolution: turn ``module``, ``module:attr``, ``pkg.module`` or ``module.attr`` into the app to run.

Celery's order (``find_app``): ``module:attr`` is that attribute; a dotted name ``a.b.c`` is attribute
``c`` of module ``a.b`` when it has one, else module ``a.b.c`` (so ``-A app.celery`` works whether
``celery`` is an attribute or a submodule). A module is searched for ``app``, ``celery`` (and
``taskora``), then a package's ``celery`` submodule, then the first app among its globals; values
that are not apps (a Flask ``app``) are skipped. A compat ``Celery`` app is recognised without
importing compat: anything with ``__taskora_app__`` (a Taskora, or a zero-arg callable returning one).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import click

from ..app import Taskora
from ._output import AppLoadError

#: Attribute names tried, in order, when ``-A`` names only a module.
APP_NAMES = ("app", "celery", "taskora")
#: The app a command runs when no ``-A`` is given, set while the CLI runs inside a program (cli/in_process.py).
PRESET_APP: ContextVar[Any] = ContextVar("taskora_cli_preset_app", default=None)


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

    def import_task_modules(self) -> None:
        """Let a front-end import the modules that register its tasks (compat: ``include=``, autodiscover)."""
        hook = getattr(self.source, "__taskora_import_modules__", None)
        if callable(hook):
            hook()

    @property
    def default_nodename(self) -> str:
        """``celery@%h`` for a Celery app (what its deployments and health checks expect), else ``taskora@%h``."""
        return "taskora@%h" if self.source is self.app else "celery@%h"


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
    preset = PRESET_APP.get()
    if not spec and preset is not None:
        label = str(getattr(preset, "main", None) or getattr(preset, "name", None) or "__main__")
        return LoadedApp(to_taskora(preset, label), preset, label)
    if not spec:
        spec = os.environ.get("TASKORA_APP") or os.environ.get("CELERY_APP") or ""
        if not spec:
            raise AppLoadError("no app given: pass -A module[:attr] (or set TASKORA_APP)")
    _cwd_on_path()
    symbol = _symbol(spec)
    obj = _find_in_module(symbol, spec) if isinstance(symbol, ModuleType) else _app_or_factory(symbol, spec)
    return LoadedApp(to_taskora(obj, spec), obj, spec)


def _cwd_on_path() -> None:
    """``celery -A proj`` imports from the current directory; so do we."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())


def _symbol(spec: str) -> Any:
    """What ``spec`` names, in Celery's order: ``module:attr``; else ``a.b.c`` as attribute ``c`` of module
    ``a.b``, and when ``a.b`` has no ``c``, module ``a.b.c``; a name without dots is a module."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        return _attribute(_import(module_name, spec), attr, spec)
    module_name, _, attr = spec.rpartition(".")
    if not module_name:
        return _import(spec, spec)
    module = _import(module_name, spec)
    if hasattr(module, attr):
        return getattr(module, attr)
    if not _module_exists(spec):
        raise AppLoadError(f"-A {spec}: module {module_name!r} has no attribute {attr!r}, and there is no module "
                           f"{spec!r} (tried both)")
    return _import(spec, spec)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


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
    return obj


def _app_or_factory(obj: Any, spec: str) -> Any:
    """``obj`` when it is an app; the app it returns when it is a factory (``proj:create_app``)."""
    if not is_app_like(obj) and callable(obj) and not isinstance(obj, type):
        obj = obj()
    if not is_app_like(obj):
        raise AppLoadError(f"-A {spec}: {spec.rpartition(':')[2] or spec!r} is {type(obj).__name__}, "
                           f"not a taskora or Celery app")
    return obj


def _find_in_module(module: ModuleType, spec: str) -> Any:
    """Celery's search of a module: ``app``, ``celery`` (``taskora`` too), then a package's ``celery``
    submodule, then the first app among the module's globals. Non-app values (a Flask ``app``) are skipped."""
    for name in APP_NAMES:
        obj = getattr(module, name, None)
        if is_app_like(obj):
            return obj
    sub = _celery_submodule(module, spec)
    if sub is not None:
        return _find_in_module(sub, spec)
    for value in vars(module).values():
        if is_app_like(value):
            return value
    raise AppLoadError(f"-A {spec}: no app found in module {module.__name__!r} (looked for "
                       f"{', '.join(APP_NAMES)}{_and_submodule(module)} or any Taskora/Celery instance)")


def _celery_submodule(module: ModuleType, spec: str) -> ModuleType | None:
    """``proj.celery`` when ``proj`` is a package that has one (Celery's ``-A proj`` convention)."""
    if not hasattr(module, "__path__") or module.__name__.endswith(".celery"):
        return None
    name = f"{module.__name__}.celery"
    if not _module_exists(name):
        return None
    return _import(name, spec)


def _and_submodule(module: ModuleType) -> str:
    return f", module {module.__name__}.celery" if hasattr(module, "__path__") else ""


def app_option(fn: Any) -> Any:
    """``-A/--app`` on a subcommand (it also works before the subcommand)."""
    return click.option("-A", "--app", "app_spec", metavar="MODULE[:ATTR]", default=None,
                        help="The app: a module, module:attr or package.")(fn)


def process_options(fn: Any) -> Any:
    """Celery's daemon options, shared by the long-running commands (worker, beat): ``-D/--detach``,
    ``--pidfile``, ``-f/--logfile`` (``%n``/``%h``/``%d``/``%i``/``%I`` expand), ``--uid``, ``--gid``, ``--umask``,
    and ``--connect-retries``."""
    options = [
        click.option("-D", "--detach", is_flag=True, help="Run in the background (logs go to --logfile)."),
        click.option("-f", "--logfile", default=None, help="Write the log to this file instead of stderr."),
        click.option("--pidfile", default=None, help="Write the pid here; refuse to start if a live process holds it."),
        click.option("--uid", default=None, help="Run as this user (name or number) once started as root."),
        click.option("--gid", default=None, help="Run as this group (name or number)."),
        click.option("--umask", default=None, help="File mode creation mask, octal (e.g. 0o22 or 022)."),
        click.option("--connect-retries", type=click.IntRange(min=0), default=None,
                     help="Retries of the first broker connection (0: none). Default: the app's "
                          "broker_connection_max_retries, else 100."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, default=False, help="Machine-readable output.")(fn)


def resolve(ctx: Any, app_spec: str | None, *, import_tasks: bool = True) -> LoadedApp:
    """Load the app named here or before the subcommand, with its task modules imported (a Celery app's
    ``include=``/``imports``/``autodiscover_tasks()``, as the worker imports them) unless told not to."""
    root = ctx.find_root().obj
    loaded = load_app(app_spec or getattr(root, "app_spec", None))
    if import_tasks:
        loaded.import_task_modules()
    return loaded


def wants_json(ctx: Any, as_json: bool) -> bool:
    return as_json or bool(getattr(ctx.find_root().obj, "as_json", False))
