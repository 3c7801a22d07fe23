"""``taskora beat -A proj``: run only the leader-elected scheduler, until SIGTERM."""

from __future__ import annotations

import logging
from typing import Any

import click

from ..worker.pools import StopSignals
from ._app import app_option, process_options, resolve
from ._celery_options import beat_celery_options
from ._connect import broker_label, connect_with_retry, retry_policy
from ._output import broker_errors
from ._process import LOG_LEVELS, daemonize, prepare_process
from .worker import load_beat

log = logging.getLogger("taskora.beat")


@click.command(short_help="Run the scheduler (Celery's beat options accepted).")
@app_option
@click.option("-l", "--loglevel", default="WARNING", show_default=True, help=f"One of {', '.join(LOG_LEVELS)}.")
@beat_celery_options
@process_options
@click.pass_context
@broker_errors
def beat(ctx: click.Context, /, app_spec: str | None, **opts: Any) -> None:
    """Run the scheduler for the app's schedules (several beats may run: one leads, the others wait)."""
    loaded = resolve(ctx, app_spec)
    pidfile = prepare_process(opts, "beat@%h")
    hook = getattr(loaded.source, "__taskora_beat_init__", None)
    if callable(hook):  # a front-end (compat) sets up its logging and beat signals
        hook()
    _log_ignored(opts)
    runner = load_beat(loaded.app)
    daemonize(opts["detach"], pidfile)
    try:
        connect_with_retry(loaded, retry_policy(loaded.source, opts["connect_retries"]))
        signals = StopSignals()
        signals.install(hangup=False)
        runner.start()
        click.echo(f"taskora beat: {loaded.spec} on {broker_label(loaded)}; SIGTERM to stop", err=True)
        log.info("beat: Starting...")  # Celery's line; SIGTERM is handled from here on
        while not signals.terms:
            signals.changed.wait(1.0)
        runner.stop()
    finally:
        pidfile.release()


def _log_ignored(opts: dict[str, Any]) -> None:
    for key, flag, why in (("schedule_file", "-s", "taskora keeps schedule state in Redis"),
                           ("scheduler", "-S", "schedules come from the app, stored in Redis"),
                           ("max_interval", "--max-interval", "the runner polls per the app's scheduler options")):
        if opts.get(key):
            log.info("%s %s ignored: %s", flag, opts[key], why)
