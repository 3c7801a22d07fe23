"""Celery worker/beat options that deployments pass (docker-compose, systemd units, Procfiles).

Each is accepted so that a Celery command line starts a taskora worker unchanged. Those that mean
something here are honoured (``--autoscale``, ``-I``, ``--purge``, ``--uid``/``--gid``/``--umask``, the
daemon options, ``--prefetch-multiplier``/``--disable-prefetch``: worker/budget.py); the others name
Celery machinery taskora does not have, and the worker says at startup (log level INFO) why each one
is not needed. migration_guide/deployment.md has the table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import click

log = logging.getLogger("taskora.worker")

#: Accepted-and-ignored options: option key -> (flag as typed, why taskora does not need it).
IGNORED: dict[str, tuple[str, str]] = {
    "task_events": ("-E", "taskora records every job transition in Redis already (the event stream)"),
    "optimization": ("-O", "a slot claims a job only when it is free, which is what -O fair asks for"),
    "statedb": ("--statedb", "revoked jobs are recorded in Redis and survive worker restarts"),
    "without_gossip": ("--without-gossip", "workers do not gossip with each other"),
    "without_mingle": ("--without-mingle", "workers do not sync state at startup"),
    "without_heartbeat": ("--without-heartbeat", "the job-lock heartbeat is what makes crashes safe; it stays on"),
    "heartbeat_interval": ("--heartbeat-interval", "the job-lock heartbeat is set by the engine"),
    "pool_start_method": ("--pool-start-method", "prefork children are forked by the supervisor"),
    "schedule_file": ("-s", "beat keeps its schedule state in Redis, not in a file"),
    "scheduler": ("--scheduler", "schedules come from the app (beat_schedule / app.schedules), stored in Redis"),
}


def _flag(*names: str, help: str) -> Callable[[Any], Any]:
    return click.option(*names, is_flag=True, default=False, help=help)


def worker_celery_options(fn: Any) -> Any:
    """The Celery worker options taskora accepts beyond its own (see the module docstring)."""
    options = [
        click.option("--autoscale", default=None, metavar="MAX,MIN",
                     help="Resize the pool between MIN and MAX by the backlog (starts at MIN)."),
        click.option("-I", "--include", multiple=True, help="Modules to import before starting (comma-separated)."),
        _flag("--purge", "--discard", help="Delete the selected tasks' waiting and delayed jobs before starting."),
        _flag("-E", "--task-events", "--events", "task_events", help="Accepted; events are always recorded."),
        click.option("-O", "--optimization", type=click.Choice(["default", "fair"]), default=None,
                     help="Accepted; claiming is always fair."),
        click.option("--prefetch-multiplier", type=click.IntRange(min=0), default=None,
                     help="Reserve at most -c x N claimed jobs beyond those running (0: no bound; default: the "
                          "app's worker_prefetch_multiplier, 4 for a Celery app)."),
        _flag("--disable-prefetch", help="Reserve no job beyond those running: claim only for a free process."),
        click.option("-S", "--statedb", default=None, help="Accepted; revokes persist in Redis."),
        _flag("--without-gossip", help="Accepted; no gossip."),
        _flag("--without-mingle", help="Accepted; no mingle."),
        _flag("--without-heartbeat", help="Accepted; the job-lock heartbeat stays on."),
        click.option("--heartbeat-interval", type=float, default=None, help="Accepted; ignored."),
        click.option("--pool-start-method", default=None, help="Accepted; ignored."),
        click.option("-s", "--schedule", "--schedule-filename", "schedule_file", default=None,
                     help="With -B: accepted; schedule state lives in Redis."),
        click.option("--scheduler", default=None, help="With -B: accepted; schedules come from the app."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def beat_celery_options(fn: Any) -> Any:
    """``celery beat``'s ``-s``, ``-S/--scheduler`` and ``--max-interval``, accepted."""
    fn = click.option("--max-interval", type=float, default=None, help="Accepted; the runner's poll is set by "
                      "the app's scheduler options.")(fn)
    fn = click.option("-S", "--scheduler", default=None, help="Accepted; schedules come from the app.")(fn)
    return click.option("-s", "--schedule", "schedule_file", default=None,
                        help="Accepted; schedule state lives in Redis, not in a file.")(fn)


def log_ignored(opts: dict[str, Any]) -> None:
    """One INFO line per accepted-and-ignored option that was given."""
    for key, (flag, why) in IGNORED.items():
        value = opts.get(key)
        if value:
            given = flag if value is True else f"{flag} {value}"
            log.info("%s accepted and ignored: %s", given, why)


def parse_autoscale(value: str | None) -> tuple[int, int] | None:
    """``--autoscale 10,3`` (either order) or ``--autoscale 10`` (min 0) -> (max, min), as Celery reads it."""
    if not value:
        return None
    try:
        numbers = sorted((int(part) for part in value.split(",") if part.strip()), reverse=True)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected MAX,MIN (two integers)", param_hint="--autoscale") from None
    if not 1 <= len(numbers) <= 2 or numbers[0] < 1 or numbers[-1] < 0:
        raise click.BadParameter(f"{value!r}: expected MAX,MIN with MAX >= 1", param_hint="--autoscale")
    return numbers[0], numbers[1] if len(numbers) == 2 else 0


def split_modules(values: tuple[str, ...]) -> list[str]:
    return [m.strip() for v in values for m in v.split(",") if m.strip()]
