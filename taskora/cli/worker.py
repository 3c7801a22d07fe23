"""``taskora worker -A proj``: run a worker process (prefork, threads, solo or asyncio pool)."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

import click

from ..adapters.base import IN_PROCESS_ADDRESS
from ..sysinfo import is_auto_concurrency
from ..worker.auto_concurrency import app_default, parse_concurrency, resolve_auto
from ..worker.autoscale import DEFAULT_KEEPALIVE_S, Autoscaler
from ..worker.budget import budget_size, default_concurrency
from ..worker.control import ControlHandler, ControlServer
from ..worker.live_ops import LiveOps
from ..worker.pool_choice import make_pool
from ..worker.pools import POOL_NAMES, Pool, StopSignals, WorkerSettings, serve
from ..worker.served import ServedTasks, on_tasks_changed
from ..worker.unknown import UnknownTasks
from ._app import LoadedApp, app_option, process_options, resolve
from ._celery_options import log_ignored, parse_autoscale, split_modules, worker_celery_options
from ._connect import broker_label, connect_with_retry, retry_policy
from ._output import EXIT_APP, CliError, broker_errors
from ._process import LOG_LEVELS, daemonize, expand_hostname, prepare_process

log = logging.getLogger("taskora.worker")


def split_queues(values: Iterable[str]) -> list[str]:
    """``-Q a,b -Q c`` -> ``[a, b, c]``."""
    return [q.strip() for v in values for q in v.split(",") if q.strip()]


def load_beat(app: Any) -> Any:
    """The scheduler runner for ``-B``/``beat``; a clear error when the scheduler is not installed."""
    try:
        from ..scheduler.runner import SchedulerRunner
    except ImportError as exc:
        raise CliError(f"the scheduler is not available ({exc}); -B/beat needs taskora.scheduler.runner") from None
    return SchedulerRunner(app)


@click.command(short_help="Run a worker (Celery's worker options accepted).")
@app_option
@click.option("-c", "--concurrency", metavar="N|auto", default=None, callback=parse_concurrency,
              help="Child processes (prefork) or slots per task (threads, asyncio); for a Celery app also the jobs "
                   "run at once. 'auto': the CPUs this process may use (prefork: capped to the cgroup CPU quota). "
                   "Default: --autoscale MAX, else the app's worker_concurrency, else CPU count.")
@click.option("--max-running", type=click.IntRange(min=1), default=None,
              help="At most N handlers run at once in each worker process, whatever their task (solo: 1; a Celery "
                   "app: its -c, 1 per prefork child; a native app: unbounded across tasks).")
@click.option("-P", "--pool", type=click.Choice([*POOL_NAMES, "processes"], case_sensitive=False), default="prefork",
              show_default=True, callback=lambda _c, _p, v: "prefork" if v.lower() == "processes" else v,
              help="'processes' is Celery's alias of prefork.")
@click.option("-Q", "--queues", multiple=True, help="Run only the tasks routed to these queues (comma-separated).")
@click.option("-X", "--exclude-queues", multiple=True, help="Run every task except those routed to these queues.")
@click.option("-n", "--hostname", default=None,
              help="Node name (%h, %n, %d expand). Default: celery@%h for a Celery app, else taskora@%h.")
@click.option("-l", "--loglevel", default="WARNING", show_default=True, help=f"One of {', '.join(LOG_LEVELS)}.")
@click.option("-B", "--beat", is_flag=True, help="Also run the scheduler (leader-elected) in this worker.")
@click.option("--max-tasks-per-child", type=click.IntRange(min=1), default=None)
@click.option("--max-memory-per-child", type=click.IntRange(min=1), default=None, help="KiB of resident memory.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Default hard time limit, seconds.")
@click.option("--soft-time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Default soft time limit, seconds.")
@click.option("--autoscale-keepalive", type=click.FloatRange(min=0), default=DEFAULT_KEEPALIVE_S, show_default=True,
              help="With --autoscale: seconds the pool stays larger than needed before it shrinks.")
@worker_celery_options
@process_options
@click.pass_context
@broker_errors
def worker(ctx: click.Context, /, app_spec: str | None, **opts: Any) -> None:
    """Run a worker for the app's tasks until SIGTERM (warm) or a second SIGTERM (cold)."""
    loaded = resolve(ctx, app_spec, import_tasks=False)
    nodename = expand_hostname(opts["hostname"] or loaded.default_nodename)
    pidfile = prepare_process(opts, nodename)
    log_ignored(opts)
    import_modules(split_modules(opts["include"]))
    beat = load_beat(loaded.app) if opts["beat"] else None
    daemonize(opts["detach"], pidfile)
    try:
        # Connected before the app's worker set-up, which may already read Redis (a Celery app's listeners).
        connect_with_retry(loaded, retry_policy(loaded.source, opts["connect_retries"]))
        settings = _settings(loaded, nodename, opts)
        if opts["purge"]:
            _purge(settings)
        _run(loaded, settings, beat)
    finally:
        pidfile.release()


def import_modules(names: list[str]) -> None:
    """``-I mod1,mod2``: import before choosing tasks, so their tasks register."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise CliError(f"-I {name}: cannot import: {exc}", exit_code=EXIT_APP) from exc


def _settings(loaded: LoadedApp, hostname: str, opts: dict[str, Any]) -> WorkerSettings:
    app = loaded.app
    include, exclude = split_queues(opts["queues"]), set(split_queues(opts["exclude_queues"]))
    pool = opts["pool"].lower()
    concurrency = _concurrency(pool, opts, app)
    # Before choosing tasks: a front-end registers tasks here (Celery's include/imports/autodiscover).
    loaded.worker_init(hostname=hostname, pool=pool, concurrency=concurrency, queues=include or None)
    tasks = [t for t in app.select_tasks(queues=include or None) if t.options.queue not in exclude]
    if not tasks:
        known = sorted({t.options.queue for t in app.tasks.values()})
        raise CliError(f"no tasks to run: queues {include or 'all'} minus {sorted(exclude) or 'none'} select none "
                       f"of the app's tasks (their queues: {', '.join(known) or 'none registered'})")
    return WorkerSettings(
        app=app, tasks=tasks, hostname=hostname, concurrency=concurrency, pool=pool,
        soft_time_limit=opts["soft_time_limit"], time_limit=opts["time_limit"],
        max_tasks_per_child=opts["max_tasks_per_child"], max_memory_per_child=opts["max_memory_per_child"],
        max_running=opts["max_running"], owns_process=True,
        extra={"queues": sorted({t.options.queue for t in tasks}), "beat": bool(opts["beat"]),
               "autoscale": None if pool == "solo" else parse_autoscale(opts["autoscale"]),
               "autoscale_keepalive": opts["autoscale_keepalive"],
               "prefetch_multiplier": opts["prefetch_multiplier"], "disable_prefetch": opts["disable_prefetch"]},
    )


def _concurrency(pool: str, opts: dict[str, Any], app: Any = None) -> int:
    """solo runs one slot whatever -c says; with --autoscale the pool starts at MIN (at least 1; as Celery, -c is
    then ignored) and the autoscaler resizes it; else -c, else the app's default (a Celery app's
    ``worker_concurrency``), else CPUs. ``auto`` (either way) is the CPU budget (worker/auto_concurrency.py)."""
    if pool == "solo":
        return 1
    autoscale = parse_autoscale(opts["autoscale"])
    if autoscale:
        if opts["concurrency"]:
            log.info("--autoscale %s,%s given: -c %s ignored", *autoscale, opts["concurrency"])
        return max(1, autoscale[1])
    configured = app_default(app)
    given = opts["concurrency"] or (configured if is_auto_concurrency(configured) else default_concurrency(app))
    if is_auto_concurrency(given):
        return resolve_auto(pool)
    return int(given or os.cpu_count() or 1)


def _purge(s: WorkerSettings) -> None:
    """``--purge``: what Celery does before consuming, for the tasks this worker runs."""
    purged = sum(s.app.adapter.purge(t.name) for t in s.tasks)
    log.warning("purge: Erased %d job%s from the queue.", purged, "" if purged == 1 else "s")


def _run(loaded: LoadedApp, s: WorkerSettings, beat: Any) -> None:
    app = s.app
    click.echo(banner(loaded, s), err=True)
    _warn_if_in_process(s)
    signals = StopSignals()
    signals.install()
    pool = make_pool(s)
    pool.start()
    autoscaler = _autoscaler(s, pool)
    handler = ControlHandler(app, [t.name for t in s.tasks], s.hostname, pool=s.pool, concurrency=s.concurrency,
                             active=pool.active, stats=lambda: _stats(pool, autoscaler),
                             request_stop=signals.request_stop)
    served = ServedTasks(app.adapter, lambda: handler.task_names)
    handler.ops = LiveOps(pool, autoscaler=autoscaler, on_tasks=on_tasks_changed(handler, served),
                          prepare_queue=getattr(loaded.source, "select_queues", None))  # Celery: per-queue twins
    served.start()
    control = ControlServer(app, handler)
    control.start()
    unknown = UnknownTasks(app, lambda: list(s.extra["queues"]), s.hostname)
    unknown.start()
    if autoscaler is not None:
        autoscaler.start()
    if beat is not None:
        beat.start()
    log.info("%s ready.", s.hostname)
    try:
        serve(pool, signals, name=s.hostname)
    finally:
        if beat is not None:
            beat.stop()
        if autoscaler is not None:
            autoscaler.stop()
        _stop_together([unknown.stop, control.stop, served.stop])
        app.events.emit("worker:shutdown", {"hostname": s.hostname, "pool": s.pool})
    log.info("%s stopped.", s.hostname)
    sys.stdout.flush()


def _stop_together(stops: list[Callable[[], None]]) -> None:
    """Run the services' stops side by side: each waits for the Redis call its thread may be in, and against a Redis
    gone silent (the connections cut, each call given up after a second) one after the other added seconds to a stop."""
    def guarded(stop: Callable[[], None]) -> None:
        try:
            stop()
        except Exception:  # one failing stop must not keep the others from running
            log.exception("stopping %s failed", getattr(stop, "__qualname__", stop))

    threads = [threading.Thread(target=guarded, args=(stop,), name="taskora-stop-service") for stop in stops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _warn_if_in_process(s: WorkerSettings) -> None:
    """A worker on the in-process engine (no broker configured) can only ever run jobs its own process sends: say so
    at start, where Celery, with no broker set, would be trying ``amqp://localhost`` instead."""
    if s.app.adapter.address == IN_PROCESS_ADDRESS:
        log.warning("%s: no broker configured (%s, the in-process engine): this worker runs only jobs sent from "
                    "inside its own process; set broker_url (or the app's Redis URL) for other processes to reach it",
                    s.hostname, IN_PROCESS_ADDRESS)


def _autoscaler(s: WorkerSettings, pool: Pool) -> Autoscaler | None:
    """``--autoscale MAX,MIN``: the thread that resizes ``pool`` by the backlog (MIN of 0 counts as 1)."""
    bounds = s.extra.get("autoscale")
    if not bounds:
        return None
    max_size, min_size = bounds[0], max(1, bounds[1])
    return Autoscaler(s.app, pool, [t.name for t in s.tasks], max_size=max(max_size, min_size), min_size=min_size,
                      keepalive_s=s.extra["autoscale_keepalive"])


def _stats(pool: Pool, autoscaler: Autoscaler | None) -> dict[str, Any]:
    """The pool's stats (its current size as ``concurrency``), with Celery's ``autoscaler`` entry when on."""
    stats = pool.stats()
    return stats if autoscaler is None else {**stats, "autoscaler": autoscaler.info()}


def banner(loaded: LoadedApp, s: WorkerSettings) -> str:
    """The startup banner a person reads: app, broker, pool, queues, tasks."""
    tasks = "\n".join(f"  . {t.name}" for t in sorted(s.tasks, key=lambda t: t.name))
    limits = f"soft={s.soft_time_limit or '-'}s hard={s.time_limit or '-'}s"
    return (f"-------------- {s.hostname} v{_version()}\n"
            f"- ** app:         {loaded.spec} ({loaded.app.name})\n"
            f"- ** broker:      {broker_label(loaded)}\n"
            f"- ** pool:        {s.pool} (concurrency: {s.concurrency}, running at once: {_running(s)})\n"
            f"- ** queues:      {', '.join(s.extra['queues'])}\n"
            f"- ** time limits: {limits}   beat: {'on' if s.extra['beat'] else 'off'}   pid: {os.getpid()}\n"
            f"[tasks]\n{tasks}\n")


def _running(s: WorkerSettings) -> str:
    """What bounds the handlers running at once, for the banner."""
    size = budget_size(s.app, s.pool, s.concurrency, s.max_running)
    if size is None:
        return f"{s.concurrency} per task"
    return f"{size} per child" if s.pool == "prefork" else str(size)


def _version() -> str:
    from .. import __version__

    return __version__
