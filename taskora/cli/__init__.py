"""The ``taskora`` command line: a click group whose subcommands load only when used.

``-A`` and ``--json`` work before the subcommand (``taskora -A proj worker``, Celery's order) and after
it (``taskora worker -A proj``). A subcommand whose module cannot be imported (e.g. ``schedules``
while the scheduler is not installed) fails alone, with a message; the others keep working.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import click

#: Subcommand name -> "module:attribute" of its click command.
COMMANDS = {
    "worker": "taskora.cli.worker:worker",
    "beat": "taskora.cli.beat:beat",
    "inspect": "taskora.cli.inspect:inspect",
    "status": "taskora.cli.jobs:status",
    "purge": "taskora.cli.jobs:purge",
    "clean": "taskora.cli.clean:clean",
    "call": "taskora.cli.jobs:call",
    "result": "taskora.cli.jobs:result",
    "schedules": "taskora.cli.schedules:schedules",
    "control": "taskora.cli.control:control",
    "shell": "taskora.cli.shell:shell",
    "report": "taskora.cli.report:report",
    "events": "taskora.cli.events:events",
    "metrics": "taskora.cli.metrics:metrics",
    "board": "taskora.cli.board:board",
}


@dataclass
class CliState:
    """Options given before the subcommand."""

    app_spec: str | None = None
    as_json: bool = False


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is asked for."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = self.lazy[cmd_name].partition(":")
        try:
            command = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            return _unavailable(cmd_name, self.lazy[cmd_name], exc)
        if not isinstance(command, click.Command):
            return _unavailable(cmd_name, self.lazy[cmd_name], TypeError(f"{attr} is not a click command"))
        return command


def _unavailable(name: str, target: str, exc: BaseException) -> click.Command:
    message = f"'{name}' is not available in this installation ({target}: {type(exc).__name__}: {exc})"

    def run(**_: Any) -> None:
        raise click.ClickException(message)

    return click.Command(name, callback=run, help=f"(unavailable: {exc})", context_settings={
        "ignore_unknown_options": True, "allow_extra_args": True})


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-A", "--app", "app_spec", metavar="MODULE[:ATTR]", help="The app: a module, module:attr or package.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.version_option(package_name="taskora", prog_name="taskora")
@click.pass_context
def cli(ctx: click.Context, app_spec: str | None, as_json: bool) -> None:
    """taskora: run workers, inspect them, call tasks and read results."""
    ctx.obj = CliState(app_spec, as_json)


def main() -> None:
    """Console entry point (``taskora`` and ``python -m taskora``)."""
    cli(prog_name="taskora")
