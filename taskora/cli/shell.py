"""``taskora shell -A proj``: a Python prompt with the app and its tasks in scope, as ``celery shell``.

In scope: ``app`` (what ``-A`` named: a Taskora or a Celery app), ``celery`` too for a Celery app,
``taskora_app`` (the native app behind it), and every task under its short name (the last part of
its dotted name, when that is a Python identifier and not taken). Reads stdin when it is not a
terminal, so scripts can pipe statements in.
"""

from __future__ import annotations

import code
import keyword
import sys
from typing import Any

import click

from ._app import LoadedApp, app_option, resolve
from ._output import broker_errors


@click.command(short_help="A Python prompt with the app and its tasks in scope.")
@app_option
@click.option("--python", "plain", is_flag=True, help="Accepted (Celery's option): the prompt is plain Python.")
@click.option("-q", "--quiet", is_flag=True, help="No banner.")
@click.pass_context
@broker_errors
def shell(ctx: click.Context, app_spec: str | None, plain: bool, quiet: bool) -> None:
    """A Python prompt with the app and its tasks in scope."""
    loaded = resolve(ctx, app_spec)
    namespace = shell_namespace(loaded)
    banner = "" if quiet else _banner(loaded, namespace)
    code.interact(banner=banner, local=namespace, exitmsg="")


def shell_namespace(loaded: LoadedApp) -> dict[str, Any]:
    namespace: dict[str, Any] = {"app": loaded.source, "taskora_app": loaded.app}
    if loaded.source is not loaded.app:
        namespace["celery"] = loaded.source
    for name, task in sorted(_tasks(loaded).items()):
        short = name.rpartition(".")[2]
        if short.isidentifier() and not keyword.iskeyword(short) and short not in namespace:
            namespace[short] = task
    return namespace


def _tasks(loaded: LoadedApp) -> dict[str, Any]:
    """The tasks users call: a Celery app's own task objects (``add.delay``), else the native ones."""
    front: Any = getattr(loaded.source, "tasks", None)
    if loaded.source is not loaded.app and hasattr(front, "items"):
        return {n: t for n, t in front.items() if not n.startswith("celery.")}
    return dict(loaded.app.tasks)


def _banner(loaded: LoadedApp, namespace: dict[str, Any]) -> str:
    names = ", ".join(sorted(namespace))
    return f"taskora shell: {loaded.spec} (Python {sys.version.split()[0]})\nIn scope: {names}"
