"""``taskora clean TASK --state completed --older-than 1h [--limit N]``: clean by age (taskora/cleaning.py)."""

from __future__ import annotations

import click

from ..cleaning import CLEANABLE_STATES, DEFAULT_BATCH
from ._app import app_option, json_option, resolve, wants_json
from ._output import broker_errors, emit


@click.command(short_help="Delete a task's finished jobs older than an age.")
@click.argument("task")
@app_option
@json_option
@click.option("--state", type=click.Choice(CLEANABLE_STATES), default="completed", show_default=True,
              help="Which finished jobs.")
@click.option("--older-than", "older_than", required=True, metavar="AGE",
              help="Jobs that finished longer ago than this go: '30s', '1h', '7d', or seconds ('0': all).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Delete at most this many.")
@click.option("--batch", type=click.IntRange(min=1), default=DEFAULT_BATCH, show_default=True,
              help="Jobs deleted per engine call (one short atomic call each).")
@click.pass_context
@broker_errors
def clean(ctx: click.Context, task: str, app_spec: str | None, as_json: bool, state: str, older_than: str,
          limit: int | None, batch: int) -> None:  # fmt: skip
    """Delete TASK's jobs in a finished state (completed, failed, cancelled, expired) that finished longer
    ago than --older-than, every key of each, in batches; waiting, delayed and active jobs are never touched."""
    app = resolve(ctx, app_spec).app
    app.adapter.connect()
    deleted = app.clean(task, state=state, older_than=older_than, limit=limit, batch=batch)
    emit({"task": task, "state": state, "olderThan": older_than, "deleted": deleted}, wants_json(ctx, as_json),
         lambda _: f"Deleted {deleted} {state} job{'s' if deleted != 1 else ''} of {task} "
                   f"older than {older_than}.")
