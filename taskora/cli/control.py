"""``taskora control ACTION [ARGS]``: Celery's ``celery control`` names, mapped to what the app can do.

A Celery app's job actions go to its ``app.control`` (taskora.compat), so the CLI does what the Python API
does. ``revoke`` and ``terminate`` act on the job in Redis (a waiting job ends at once, a running one
is stopped by its worker), and ``rate_limit`` changes the limit every worker reads from Redis, so those
work for a native app too. The actions that change a running worker in place (``pool_grow``, ``pool_shrink``,
``autoscale``, ``add_consumer``, ``cancel_consumer``, ``time_limit``, ``shutdown``) go to live workers over the
control channel (all, or those named by ``-d``), and each worker's Celery-shaped reply is printed.
"""

from __future__ import annotations

from typing import Any

import click

from ..rate_limits import set_rate_limit
from ._app import LoadedApp, app_option, json_option, resolve, wants_json
from ._output import CliError, broker_errors, emit

#: Actions that act on jobs; each works for every app.
JOB_ACTIONS = ("revoke", "terminate")
#: Actions on what every worker reads from Redis; each works for every app.
STORE_ACTIONS = ("rate_limit",)
#: Actions sent to live workers over the control channel.
BROADCAST_ACTIONS = ("shutdown", "pool_grow", "pool_shrink", "autoscale", "add_consumer", "cancel_consumer",
                     "time_limit")
#: Celery actions that reconfigure live workers that taskora workers do not take, and what to do instead.
WORKER_ACTIONS: dict[str, str] = {}
#: The node name answers read from the job store are reported under (as compat's inspect does).
STORE_NODE = "taskora@store"


@click.command(context_settings={"ignore_unknown_options": True},
               short_help="Revoke or terminate jobs (Celery's control action names).")
@click.argument("action", type=click.Choice([*JOB_ACTIONS, *STORE_ACTIONS, *BROADCAST_ACTIONS, *WORKER_ACTIONS]),
                metavar="ACTION")
@click.argument("args", nargs=-1)
@app_option
@json_option
@click.option("-t", "--timeout", type=float, default=1.0, show_default=True,
              help="How long to wait for workers' replies (shutdown).")
@click.option("-d", "--destination", multiple=True,
              help="Worker node names a shutdown goes to (default: all); jobs are acted on in Redis.")
@click.pass_context
@broker_errors
def control(ctx: click.Context, action: str, args: tuple[str, ...], app_spec: str | None, as_json: bool,
            timeout: float, destination: tuple[str, ...]) -> None:  # fmt: skip
    """Celery's control actions: revoke ID..., terminate SIGNAL ID..., rate_limit TASK RATE, shutdown,
    pool_grow [N], pool_shrink [N], autoscale MAX [MIN], add_consumer QUEUE, cancel_consumer QUEUE,
    time_limit TASK SOFT [HARD].

    The worker actions go to every live worker, or to those named by -d."""
    loaded = resolve(ctx, app_spec)
    loaded.app.adapter.connect()
    if action in BROADCAST_ACTIONS:
        replies = loaded.app.broadcast(action, args=broadcast_args(action, args), timeout=timeout,
                                       destination=destination or None)
        emit(replies, wants_json(ctx, as_json), _render_replies)
        return
    if action not in JOB_ACTIONS:
        _worker_action(loaded, action, args)
        return
    terminate = action == "terminate"
    ids = _job_ids(action, args)
    outcome = _cancel(loaded, ids, terminate)
    emit({STORE_NODE: outcome}, wants_json(ctx, as_json), lambda o: _render(o[STORE_NODE], terminate))


def broadcast_args(action: str, args: tuple[str, ...]) -> dict[str, Any]:
    """Celery's positional arguments of a worker action, as the control command's named ones."""
    if action in ("pool_grow", "pool_shrink"):
        if len(args) > 1 or (args and not args[0].isdigit()) or (args and int(args[0]) < 1):
            raise click.UsageError(f"{action} takes [N], a positive number of slots (default 1)")
        return {"n": int(args[0]) if args else 1}
    if action == "autoscale":
        if not 1 <= len(args) <= 2 or not all(arg.isdigit() for arg in args):
            raise click.UsageError("autoscale takes MAX [MIN], whole numbers of slots (e.g. autoscale 10 3)")
        return {"max": int(args[0]), "min": int(args[1]) if args[1:] else None}
    if action in ("add_consumer", "cancel_consumer"):
        if not args:
            raise click.UsageError(f"{action} takes QUEUE (e.g. {action} reports)")
        return {"queue": args[0]}
    if action == "time_limit":
        if not 2 <= len(args) <= 3:
            raise click.UsageError("time_limit takes TASK SOFT [HARD] (seconds; 0 for none)")
        return {"task_name": args[0], "soft": _seconds_arg(args[1]), "hard": _seconds_arg(args[2] if args[2:] else "0")}
    if args:
        raise click.UsageError(f"{action} takes no arguments")
    return {}


def _seconds_arg(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        raise click.UsageError(f"time_limit: {text!r} is not a number of seconds") from None
    if value < 0:
        raise click.UsageError(f"time_limit: {text!r} must not be negative")
    return value or None


def _job_ids(action: str, args: tuple[str, ...]) -> list[str]:
    """``revoke ID...`` / ``terminate SIGNAL ID...`` (Celery's argument order)."""
    ids = list(args[1:] if action == "terminate" else args)
    if action == "terminate" and (not args or not args[0].upper().removeprefix("SIG").isalnum()):
        raise click.UsageError("terminate takes SIGNAL ID... (e.g. terminate SIGKILL 3f2a...)")
    if not ids:
        raise click.UsageError(f"{action} needs at least one task id")
    return ids


def _cancel(loaded: LoadedApp, ids: list[str], terminate: bool) -> dict[str, str]:
    """Each id's outcome: ``cancelled`` (was waiting), ``flagged`` (running: its worker stops it), ``finished``
    or ``unknown``; through the Celery app's ``control`` when it has one."""
    control_api = getattr(loaded.source, "control", None)
    outcome: dict[str, str] = {}
    for job_id in ids:
        handle = loaded.app.locate(job_id)
        if handle is None:
            outcome[job_id] = "unknown"
        elif control_api is not None and hasattr(control_api, "revoke"):
            control_api.revoke(job_id, terminate=terminate)
            state = handle.state() or "unknown"
            outcome[job_id] = "flagged" if state == "active" else state
        else:
            outcome[job_id] = handle.cancel("terminated" if terminate else "revoked")
    return outcome


def _render(outcome: dict[str, str], terminate: bool) -> str:
    flagged = [i for i, what in outcome.items() if what != "unknown"]
    lines = [f"->  {STORE_NODE}: OK"]
    if flagged:
        lines.append(f"        tasks flagged as {'terminated' if terminate else 'revoked'}: {', '.join(flagged)}")
    lines.extend(f"        {job_id}: {what}" for job_id, what in outcome.items())
    return "\n".join(lines)


def _render_replies(replies: dict[str, Any]) -> str:
    """Celery's ``->  node: OK`` lines, one per worker that answered."""
    if not replies:
        return "Error: No nodes replied within time constraint."
    lines = []
    for host, reply in sorted(replies.items()):
        error = reply.get("error") if isinstance(reply, dict) else None
        lines.append(f"->  {host}: {'ERROR' if error else 'OK'}")
        lines.append(f"        {error or (reply.get('ok') if isinstance(reply, dict) else reply)}")
    return "\n".join(lines)


def _worker_action(loaded: LoadedApp, action: str, args: tuple[str, ...]) -> None:
    """A Celery app whose ``control`` has the action gets it called; otherwise a clear 'not supported'."""
    method = getattr(getattr(loaded.source, "control", None), action, None)
    if callable(method):
        reply: Any = method(*args)
        click.echo(reply if reply is not None else f"{action}: sent")
        return
    if action == "rate_limit":
        _set_rate_limit(loaded, args)
        return
    raise CliError(f"control {action}: not supported by taskora workers (they do not change in place); "
                   f"instead, {WORKER_ACTIONS[action]}")


def _set_rate_limit(loaded: LoadedApp, args: tuple[str, ...]) -> None:
    """``rate_limit TASK RATE`` for a native app: the limit every worker of the task reads from Redis."""
    if len(args) != 2:
        raise click.UsageError("rate_limit takes TASK RATE (e.g. rate_limit send-email 10/s; 0 lifts the limit)")
    task, rate = args
    limit = set_rate_limit(loaded.app, task, None if rate.lower() in ("0", "none") else rate)
    click.echo(f"rate_limit: {task} is now {'unlimited' if limit is None else rate} on every worker")
