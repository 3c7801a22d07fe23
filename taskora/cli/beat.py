"""``taskora beat -A proj``: run only the leader-elected scheduler, until SIGTERM."""

from __future__ import annotations

import logging
from typing import Any

import click

from ..worker.pools import StopSignals
from ._app import app_option, process_options, resolve
from ._output import broker_errors
from ._process import LOG_LEVELS, PidFile, detach, setup_logging
from .worker import load_beat

log = logging.getLogger("taskora.beat")


@click.command()
@app_option
@click.option("-l", "--loglevel", default="WARNING", show_default=True, help=f"One of {', '.join(LOG_LEVELS)}.")
@click.option("-s", "--schedule", "schedule_file", default=None,
              help="Accepted for Celery compatibility: schedule state lives in Redis, not in a file.")
@process_options
@click.pass_context
@broker_errors
def beat(ctx: click.Context, app_spec: str | None, **opts: Any) -> None:
    """Run the scheduler for the app's schedules (several beats may run: one leads, the others wait)."""
    setup_logging(opts["loglevel"], opts["logfile"])
    loaded = resolve(ctx, app_spec)
    hook = getattr(loaded.source, "__taskora_beat_init__", None)
    if callable(hook):  # a front-end (compat) sets up its logging and beat signals
        hook()
    runner = load_beat(loaded.app)
    if opts["schedule_file"]:
        log.info("-s %s ignored: taskora keeps schedule state in Redis", opts["schedule_file"])
    if opts["detach"]:
        detach(opts["logfile"])
    pidfile = PidFile(opts["pidfile"])
    pidfile.acquire()
    try:
        loaded.app.adapter.connect()
        signals = StopSignals()
        signals.install(hangup=False)
        runner.start()
        click.echo(f"taskora beat: {loaded.spec} on {loaded.app.adapter.address}; SIGTERM to stop", err=True)
        while not signals.terms:
            signals.changed.wait(1.0)
        runner.stop()
    finally:
        pidfile.release()
