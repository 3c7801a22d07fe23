"""``taskora control ACTION [ARGS]``: Celery's ``celery control`` names, mapped to what the app can do.

A Celery app's actions go to its ``app.control`` (taskora.compat), so the CLI does what the Python API
does. ``revoke`` and ``terminate`` act on the job in Redis (a waiting job ends at once, a running one
is stopped by its worker), and ``rate_limit`` changes the limit every worker reads from Redis, so those
work for a native app too. The other Celery actions change a running worker in place; taskora workers
do not take those commands (yet), and the CLI says so instead of pretending: stop and restart the worker
with new options. ``shutdown`` goes to live workers over the control channel: a warm shutdown, as SIGTERM.
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
BROADCAST_ACTIONS = ("shutdown",)
#: Celery actions that reconfigure live workers, and what to do instead with taskora.
WORKER_ACTIONS = {
    "time_limit": "set time_limit/soft_time_limit on the task, or restart with --time-limit/--soft-time-limit",
    "add_consumer": "restart the worker with the queue added to -Q",
    "cancel_consumer": "restart the worker without the queue in -Q",
    "pool_grow": "restart the worker with a larger -c",
    "pool_shrink": "restart the worker with a smaller -c",
}
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
    """Celery's control actions: revoke ID..., terminate SIGNAL ID..., rate_limit TASK RATE, shutdown (others: see
    the error they give).

    ACTION is one of revoke, terminate, rate_limit, time_limit, shutdown, add_consumer, cancel_consumer,
    pool_grow, pool_shrink."""
    loaded = resolve(ctx, app_spec)
    loaded.app.adapter.connect()
    if action in BROADCAST_ACTIONS:
        replies = loaded.app.broadcast(action, timeout=timeout, destination=destination or None)
        emit(replies, wants_json(ctx, as_json), _render_replies)
        return
    if action not in JOB_ACTIONS:
        _worker_action(loaded, action, args)
        return
    terminate = action == "terminate"
    ids = _job_ids(action, args)
    outcome = _cancel(loaded, ids, terminate)
    emit({STORE_NODE: outcome}, wants_json(ctx, as_json), lambda o: _render(o[STORE_NODE], terminate))


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
