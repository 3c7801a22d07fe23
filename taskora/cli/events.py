"""``taskora events -A proj``: print task events as they happen, like ``celery events --dump``.

Every job transition is already in the tasks' Redis event streams, so nothing has to be switched on
in the workers (Celery needs ``-E``). Lines read ``<time> task-<event> <task>[<id>] key=value ...``;
``--json`` prints one JSON object per event. There is no curses monitor; ``--dump`` is accepted.
"""

from __future__ import annotations

import dataclasses
import json
import queue
from datetime import datetime, timezone
from typing import Any

import click

from ..events import TASK_EVENTS, Event
from ._app import app_option, json_option, resolve, wants_json
from ._output import broker_errors

#: How often the wait for the next event looks up (for --timeout and Ctrl-C).
POLL_S = 0.5


@click.command(short_help="Print task events as they happen (Celery's events --dump).")
@app_option
@json_option
@click.option("-d", "--dump", is_flag=True, help="Accepted (Celery's option): events are always dumped.")
@click.option("-n", "--count", type=click.IntRange(min=1), default=None, help="Stop after this many events.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds without an event.")
@click.pass_context
@broker_errors
def events(ctx: click.Context, app_spec: str | None, as_json: bool, dump: bool, count: int | None,
           timeout: float | None) -> None:  # fmt: skip
    """Print the app's task events as they happen, until Ctrl-C (or --count / --timeout)."""
    app = resolve(ctx, app_spec).app
    app.adapter.connect()
    arrived: queue.Queue[Event] = queue.Queue()
    for name in sorted(TASK_EVENTS):
        app.on(f"task:{name}", arrived.put)
    click.echo(f"-> taskora events: listening to {len(app.tasks)} task(s) on {app.adapter.address}", err=True)
    as_json = wants_json(ctx, as_json)
    try:
        _print_events(arrived, as_json, count, timeout)
    except KeyboardInterrupt:
        pass


def _print_events(arrived: queue.Queue[Event], as_json: bool, count: int | None, timeout: float | None) -> None:
    seen, idle = 0, 0.0
    while count is None or seen < count:
        try:
            event = arrived.get(timeout=POLL_S)
        except queue.Empty:
            idle += POLL_S
            if timeout is not None and idle >= timeout:
                return
            continue
        seen, idle = seen + 1, 0.0
        click.echo(json.dumps(_fields(event), default=str, sort_keys=True) if as_json else render(event))


def _fields(event: Event) -> dict[str, Any]:
    data = {k: v for k, v in dataclasses.asdict(event).items() if v is not None and v != {}}
    data["timestamp"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return data


def render(event: Event) -> str:
    fields = _fields(event)
    when, name, task, job_id = (fields.pop(k) for k in ("timestamp", "name", "task", "id"))
    rest = " ".join(f"{k}={v!r}" for k, v in sorted(fields.items()))
    return f"{when} task-{name} {task}[{job_id}] {rest}".rstrip()
