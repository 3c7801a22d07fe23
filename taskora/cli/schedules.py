"""``taskora schedules list|pause|resume|trigger|remove``: the stored schedules, from the shell."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import click

from ..errors import UnknownTaskError
from ._app import app_option, json_option, resolve, wants_json
from ._output import CliError, broker_errors, emit


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _timing(wire: dict[str, Any]) -> str:
    if "cron" in wire:
        return f"cron {wire['cron']} ({wire.get('timezone', 'UTC')})"
    if "crontab" in wire:
        return f"crontab {wire['crontab']} ({wire.get('timezone', 'UTC')})"
    return f"every {wire['every'] / 1000:g}s"


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no schedules stored (they are written when a scheduler starts: taskora beat / worker -B)"
    lines = [f"{'NAME':<28} {'TASK':<28} {'NEXT RUN':<24} {'LAST RUN':<24} TIMING"]
    for row in rows:
        next_run = "paused" if row["paused"] else _when(row["nextRun"])
        lines.append(f"{row['name']:<28} {row['task']:<28} {next_run:<24} {_when(row.get('lastRun')):<24} "
                     f"{_timing(row)}")
    return "\n".join(lines)


def _manager(ctx: click.Context, app_spec: str | None) -> Any:
    app = resolve(ctx, app_spec).app
    app.adapter.connect()
    return app.schedules


def _named(action: str, help_text: str) -> click.Command:
    """One subcommand that applies ``action`` to a schedule by name and prints the result."""

    @click.command(name=action, help=help_text)
    @click.argument("name")
    @app_option
    @json_option
    @click.pass_context
    @broker_errors
    def command(ctx: click.Context, name: str, app_spec: str | None, as_json: bool) -> None:
        manager = _manager(ctx, app_spec)
        try:
            outcome = getattr(manager, action)(name)
        except UnknownTaskError as exc:
            raise CliError(str(exc)) from None
        if action == "remove":
            if not outcome:
                raise CliError(f"no schedule named {name!r} is stored")
            data: dict[str, Any] = {"name": name, "removed": True}
        elif action == "trigger":
            data = {"name": name, "task": outcome.task, "jobId": outcome.id}
        else:
            data = outcome.to_dict()
        emit(data, wants_json(ctx, as_json), lambda d: _human(action, d))

    return command


def _human(action: str, data: dict[str, Any]) -> str:
    if action == "remove":
        return f"removed {data['name']}"
    if action == "trigger":
        return f"triggered {data['name']}: job {data['jobId']} ({data['task']})"
    state = "paused" if data["paused"] else f"next run {_when(data['nextRun'])}"
    return f"{action}d {data['name']}: {state}"


@click.group(short_help="List and manage the stored schedules.")
def schedules() -> None:
    """List and manage the stored schedules (shared by every scheduler on this Redis)."""


@schedules.command(name="list")
@app_option
@json_option
@click.pass_context
@broker_errors
def list_schedules(ctx: click.Context, app_spec: str | None, as_json: bool) -> None:
    """Every stored schedule with its next and last run."""
    rows = [info.to_dict() for info in _manager(ctx, app_spec).list()]
    emit(rows, wants_json(ctx, as_json), _table)


for _action, _help in (
    ("pause", "Stop firing a schedule until it is resumed."),
    ("resume", "Fire a paused schedule again, from its next time after now."),
    ("trigger", "Run a schedule's task now (its timing is unchanged)."),
    ("remove", "Delete a stored schedule (a declared one returns when a scheduler next syncs)."),
):
    schedules.add_command(_named(_action, _help))
