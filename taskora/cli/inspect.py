"""``taskora inspect ping|active|reserved|scheduled|stats|registered``: ask live workers."""

from __future__ import annotations

import json
from typing import Any

import click

from ..worker.control import COMMANDS, broadcast
from ._app import app_option, json_option, resolve, wants_json
from ._output import CliError, broker_errors, emit


@click.command(short_help="Ask live workers: ping, active, reserved, scheduled, stats, registered.")
@click.argument("command", type=click.Choice(COMMANDS))
@app_option
@json_option
@click.option("-t", "--timeout", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Seconds to wait for replies.")
@click.option("-d", "--destination", multiple=True, help="Only these workers (hostnames, comma-separated).")
@click.pass_context
@broker_errors
def inspect(ctx: click.Context, command: str, app_spec: str | None, as_json: bool, timeout: float,
            destination: tuple[str, ...]) -> None:  # fmt: skip
    """Ask every live worker (or --destination ones) and print who answered what."""
    app = resolve(ctx, app_spec).app
    app.adapter.connect()
    targets = [d.strip() for v in destination for d in v.split(",") if d.strip()]
    replies = broadcast(app, command, timeout=timeout, destination=targets or None)
    if not replies:
        raise CliError("No nodes replied within time constraint.")
    emit(replies, wants_json(ctx, as_json), lambda r: render(command, r))


def render(command: str, replies: dict[str, Any]) -> str:
    lines: list[str] = []
    for host in sorted(replies):
        reply = replies[host]
        lines.append(f"->  {host}: OK")
        lines.extend(f"    {line}" for line in _body(command, reply))
    lines.append(f"\n{len(replies)} node{'s' if len(replies) != 1 else ''} online.")
    return "\n".join(lines)


def _body(command: str, reply: Any) -> list[str]:
    if isinstance(reply, dict) and "error" in reply and command != "stats":
        return [f"error: {reply['error']}"]
    if command == "ping":
        return [str(reply)]
    if command == "registered":
        return [f"* {name}" for name in reply] or ["- empty -"]
    if command == "active":
        return [f"* {j['task']}[{j['id']}] attempt={j['attempt']} running {j['runtime_s']}s" for j in reply] \
            or ["- empty -"]
    if command == "reserved":
        return [f"* {j['task']}[{j['id']}]" for j in reply] or ["- empty -"]
    if command == "scheduled":
        return [f"* {j['task']}[{j['id']}] eta_ms={j['eta_ms']}" for j in reply] or ["- empty -"]
    return json.dumps(reply, indent=2, sort_keys=True, default=str).splitlines()
