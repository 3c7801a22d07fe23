"""``taskora report -A proj``: what a bug report needs, as ``celery report`` prints it.

Versions, the platform, the app, the broker (password masked), its tasks, and the settings: a
Celery app's non-default settings through its own censoring ``conf.humanize()``, a native app's
task defaults. Nothing here connects to Redis, so it also works while the broker is down.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

import click

from ._app import LoadedApp, app_option, json_option, resolve, wants_json
from ._connect import broker_label
from ._output import broker_errors, emit

#: Distributions whose versions matter for a taskora deployment.
PACKAGES = ("taskora", "redis", "hiredis", "click")


@click.command(short_help="Versions, platform, broker and settings, for bug reports.")
@app_option
@json_option
@click.pass_context
@broker_errors
def report(ctx: click.Context, app_spec: str | None, as_json: bool) -> None:
    """Versions, platform, app, broker (password masked) and settings, for bug reports."""
    loaded = resolve(ctx, app_spec)
    emit(build_report(loaded), wants_json(ctx, as_json), _render)


def build_report(loaded: LoadedApp) -> dict[str, Any]:
    return {
        "software": {name: _version(name) for name in PACKAGES} | {"py": platform.python_version()},
        "platform": {"system": platform.system(), "arch": platform.machine(), "kernel version": platform.release(),
                     "imp": sys.implementation.name},
        "app": {"spec": loaded.spec, "kind": "taskora" if loaded.source is loaded.app else type(loaded.source).__name__,
                "name": loaded.app.name, "tasks": len(loaded.app.tasks)},
        "broker": broker_label(loaded),
        "settings": _settings(loaded),
    }


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _settings(loaded: LoadedApp) -> str:
    """A Celery app's changed settings, censored by its conf; a native app's task defaults."""
    humanize = getattr(getattr(loaded.source, "conf", None), "humanize", None)
    if loaded.source is not loaded.app and callable(humanize):
        return str(humanize(with_defaults=False, censored=True))
    defaults = {k: v for k, v in vars(loaded.app.defaults).items() if v is not None} \
        if hasattr(loaded.app.defaults, "__dict__") else {}
    return "\n".join(f"{key}: {value!r}" for key, value in sorted(defaults.items()))


def _render(data: dict[str, Any]) -> str:
    software = " ".join(f"{k}:{v}" for k, v in data["software"].items())
    system = " ".join(f"{k}:{v}" for k, v in data["platform"].items())
    app = data["app"]
    return (f"software -> {software}\nplatform -> {system}\n"
            f"app -> {app['spec']} ({app['kind']} {app['name']!r}, {app['tasks']} tasks)\n"
            f"broker -> {data['broker']}\n\n{data['settings']}".rstrip())
