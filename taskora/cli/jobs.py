"""Job commands: ``status``, ``purge``, ``call NAME`` and ``result ID``."""

from __future__ import annotations

from typing import Any

import click

from ..app import Taskora
from ..errors import CancelledError, ExpiredError, JobFailedError, TimeoutError
from ..worker.control import broadcast
from ._app import LoadedApp, app_option, json_option, resolve, wants_json
from ._output import CliError, broker_errors, emit, parse_json_option


def _connected(ctx: click.Context, app_spec: str | None) -> LoadedApp:
    loaded = resolve(ctx, app_spec)
    loaded.app.adapter.connect()
    return loaded


@click.command(short_help="Jobs per state for each task, and the live workers.")
@app_option
@json_option
@click.option("-t", "--timeout", type=float, default=1.0, show_default=True, help="Seconds to wait for workers.")
@click.pass_context
@broker_errors
def status(ctx: click.Context, app_spec: str | None, as_json: bool, timeout: float) -> None:
    """Jobs per state for each task, and the workers that answer a ping."""
    app = _connected(ctx, app_spec).app
    report = {"broker": app.adapter.address,
              "tasks": {name: app.adapter.counts(name) for name in sorted(app.tasks)},
              "workers": sorted(broadcast(app, "ping", timeout=timeout))}
    emit(report, wants_json(ctx, as_json), _render_status)


def _render_status(report: dict[str, Any]) -> str:
    states = ("waiting", "delayed", "active", "completed", "failed", "cancelled", "expired")
    width = max([len("task"), *(len(n) for n in report["tasks"])])
    lines = [f"broker: {report['broker']}", "  ".join([f"{'task':<{width}}", *(f"{s:>9}" for s in states)])]
    for name, counts in report["tasks"].items():
        lines.append("  ".join([f"{name:<{width}}", *(f"{counts[s]:>9}" for s in states)]))
    workers = report["workers"]
    lines.append(f"{len(workers)} worker{'s' if len(workers) != 1 else ''} online" +
                 (f": {', '.join(workers)}" if workers else ""))
    return "\n".join(lines)


@click.command(short_help="Delete waiting and delayed jobs.")
@app_option
@json_option
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("-Q", "--queues", multiple=True, help="Only tasks routed to these queues (comma-separated).")
@click.pass_context
@broker_errors
def purge(ctx: click.Context, app_spec: str | None, as_json: bool, force: bool, queues: tuple[str, ...]) -> None:
    """Delete every waiting and delayed job (of the app's tasks, or of those on --queues)."""
    app = _connected(ctx, app_spec).app
    wanted = {q.strip() for v in queues for q in v.split(",") if q.strip()}
    names = [n for n, t in sorted(app.tasks.items()) if not wanted or t.options.queue in wanted]
    pending = sum(app.adapter.counts(n)["waiting"] + app.adapter.counts(n)["delayed"] for n in names)
    if not force:
        click.confirm(f"Delete {pending} waiting/delayed job(s) of {len(names)} task(s) on {app.adapter.address}?",
                      abort=True, err=True)
    purged = {name: app.adapter.purge(name) for name in names}
    total = sum(purged.values())
    emit({"purged": total, "tasks": purged}, wants_json(ctx, as_json),
         lambda _: f"Purged {total} job{'s' if total != 1 else ''} from {len(names)} task(s).")


@click.command(short_help="Dispatch a task; print its id (or its result with --wait).")
@click.argument("name")
@app_option
@json_option
@click.option("-a", "--args", "args_json", default=None, help="Positional arguments, a JSON list.")
@click.option("-k", "--kwargs", "kwargs_json", default=None, help="Keyword arguments, a JSON object.")
@click.option("--data", "data_json", default=None, help="A native task's input, any JSON value.")
@click.option("--countdown", "--delay", "delay", type=click.FloatRange(min=0), default=None, help="Seconds to wait.")
@click.option("--priority", type=int, default=None)
@click.option("-w", "--wait", is_flag=True, help="Wait for the result and print it.")
@click.option("--timeout", type=float, default=None, help="With --wait: give up after this many seconds.")
@click.pass_context
@broker_errors
def call(ctx: click.Context, name: str, app_spec: str | None, as_json: bool, args_json: str | None,
         kwargs_json: str | None, data_json: str | None, delay: float | None, priority: int | None, wait: bool,
         timeout: float | None) -> None:  # fmt: skip
    """Dispatch task NAME; prints the job id (or, with --wait, the result)."""
    loaded = _connected(ctx, app_spec)
    args = parse_json_option(args_json, "--args", list)
    kwargs = parse_json_option(kwargs_json, "--kwargs", dict)
    options = {k: v for k, v in (("delay", delay), ("priority", priority)) if v is not None}
    if data_json is None and hasattr(loaded.source, "send_task"):  # a Celery-style app: its own envelope
        countdown = options.pop("delay", None)
        sent = loaded.source.send_task(name, args=args or [], kwargs=kwargs or {}, countdown=countdown, **options)
        job_id = str(sent.id)
    else:
        data = _native_data(args, kwargs, data_json)
        job_id = loaded.app.dispatch(name, data, **options).id
    out: dict[str, Any] = {"id": job_id, "task": name}
    if wait:
        out.update(_final(loaded.app, job_id, name, timeout))
    emit(out, wants_json(ctx, as_json), lambda o: _render_result(o) if wait else o["id"])
    if wait and out.get("state") != "completed":
        ctx.exit(1)


def _native_data(args: list[Any] | None, kwargs: dict[str, Any] | None, data_json: str | None) -> Any:
    """A native task takes one value: --data, or a single --args item, or --kwargs as an object."""
    if data_json is not None:
        if args is not None or kwargs is not None:
            raise click.UsageError("give either --data or --args/--kwargs, not both")
        return parse_json_option(data_json, "--data", object)
    if args and kwargs:
        raise click.UsageError("a native task takes one input: use --data, one --args item, or --kwargs")
    if args is not None:
        if len(args) > 1:
            raise click.UsageError(f"a native task takes one input, --args has {len(args)}: use --data '[...]'")
        return args[0] if args else None
    return kwargs


@click.command(short_help="Show a job's state and result.")
@click.argument("job_id")
@app_option
@json_option
@click.option("-w", "--wait", is_flag=True, help="Wait until the job is finished.")
@click.option("--timeout", type=float, default=None, help="With --wait: give up after this many seconds.")
@click.pass_context
@broker_errors
def result(ctx: click.Context, job_id: str, app_spec: str | None, as_json: bool, wait: bool,
           timeout: float | None) -> None:  # fmt: skip
    """Show job JOB_ID's state and result (or error)."""
    app = _connected(ctx, app_spec).app
    handle = app.locate(job_id)
    if handle is None:
        raise CliError(f"no job {job_id!r} among the tasks of this app ({len(app.tasks)} task(s))")
    out: dict[str, Any] = {"id": job_id, "task": handle.task}
    out.update(_final(app, job_id, handle.task, timeout) if wait else _current(app, handle.task, job_id))
    emit(out, wants_json(ctx, as_json), _render_result)
    if out.get("state") == "failed":
        ctx.exit(1)


def _current(app: Taskora, task: str, job_id: str) -> dict[str, Any]:
    fields = app.adapter.get_fields(task, job_id, ["state", "result", "error"])
    out: dict[str, Any] = {"state": fields["state"]}
    if fields["state"] == "completed" and fields["result"] is not None:
        out["result"] = app.serializer.loads(fields["result"])
    if fields.get("error"):
        out["error"] = fields["error"]
    return out


def _final(app: Taskora, job_id: str, task: str, timeout: float | None) -> dict[str, Any]:
    try:
        return {"state": "completed", "result": app.handle(task, job_id).result(timeout)}
    except JobFailedError as exc:
        return {"state": "failed", "error": exc.error}
    except CancelledError as exc:
        return {"state": "cancelled", "error": exc.reason or "cancelled"}
    except ExpiredError as exc:
        return {"state": "expired", "error": str(exc)}
    except TimeoutError:
        raise CliError(f"job {job_id} did not finish within {timeout}s") from None


def _render_result(out: dict[str, Any]) -> str:
    head = f"{out['task']}[{out['id']}] {out['state']}"
    if "result" in out:
        return f"{head}\n{out['result']!r}"
    return f"{head}: {out['error']}" if out.get("error") else head
