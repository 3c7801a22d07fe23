"""The board as an ASGI application (Starlette): the page, its static files, the JSON API and the SSE stream.

``create_board(app)`` returns a Starlette app to run with any ASGI server (``taskora board`` uses uvicorn)
or to mount under a path of a FastAPI/Starlette/Django-ASGI project. Every URL the page uses is relative to
where the board is mounted, so ``/board`` or ``/ops/queue`` work alike.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..adapters.base import CONNECTION_ERRORS
from ..errors import ConfigurationError, UnknownTaskError
from . import actions, views
from . import page as board_page
from .live import EventHub
from .redaction import DEFAULT_REDACT, Redactor
from .security import COOKIE, CSRF_HEADER, AuthHook, BoardAuth, Session, resolve_auth
from .shared_reads import SharedReads

if TYPE_CHECKING:
    from ..app import Taskora

log = logging.getLogger("taskora.board")

STATIC = board_page.STATIC
UNAUTHORIZED = {"error": "unauthorized"}
#: Seconds a failed login waits before its answer.
LOGIN_FAILURE_DELAY_S = 0.5
#: Seconds between SSE keep-alive comments (proxies close idle connections).
KEEPALIVE_S = 15.0

Endpoint = Callable[[Request], Response]


class Board:
    """The state the routes share: the taskora app, how requests are let in, and the event hub."""

    def __init__(self, app: Taskora, auth: BoardAuth, read_only: bool, title: str, redact: Redactor) -> None:
        self.app, self.auth, self.read_only, self.title, self.redact = app, auth, read_only, title, redact
        self.hub = EventHub(app)
        self.roster = views.WorkerRoster(app)
        self.shared = SharedReads()  # the overview's reads, once a second for every open page

    def session(self, request: Request) -> Session | None:
        return self.auth.decode(request.cookies.get(COOKIE))

    def allows(self, request: Request) -> bool:
        if self.auth.mode == "password" and self._bearer_ok(request):
            return True
        return self.auth.allows(request, self.session(request))

    def _bearer_ok(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.auth.password_matches(token)

    def refusal(self, request: Request, write: bool) -> Response | None:
        """Why this request may not proceed (401, 403), or None when it may."""
        if not self.allows(request):
            return JSONResponse(UNAUTHORIZED, status_code=401)
        if not write:
            return None
        if self.read_only:
            return JSONResponse({"error": "the board is read-only"}, status_code=403)
        if self._bearer_ok(request):  # a bearer header is never sent by another site's form or fetch
            return None
        if not self.auth.csrf_ok(self.session(request), request.headers.get(CSRF_HEADER)):
            return JSONResponse({"error": "missing or invalid CSRF token"}, status_code=403)
        return None


def _api(write: bool = False) -> Callable[[Callable[[Board, Request], Any]], Endpoint]:
    """Guard an API endpoint (auth, then read-only and CSRF for writes) and turn its return value and the
    errors it raises into JSON responses. The endpoint stays synchronous: Starlette runs it in a thread."""

    def wrap(fn: Callable[[Board, Request], Any]) -> Endpoint:
        @functools.wraps(fn)
        def endpoint(request: Request) -> Response:
            board: Board = request.app.state.board
            refused = board.refusal(request, write)
            if refused is not None:
                return refused
            try:
                result = fn(board, request)
            except UnknownTaskError as exc:
                return JSONResponse({"error": str(exc)}, status_code=404)
            except actions.JobStateConflict as exc:
                return JSONResponse({"error": str(exc)}, status_code=409)
            except (ConfigurationError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except CONNECTION_ERRORS as exc:
                return JSONResponse({"error": f"the broker is unreachable: {type(exc).__name__}"}, status_code=503)
            if write:
                board.shared.clear()  # the board's own change shows at the next read
            if result is None:
                return JSONResponse({"error": "not found"}, status_code=404)
            return result if isinstance(result, Response) else JSONResponse(result)

        return endpoint

    return wrap


def _int_param(request: Request, name: str, default: int) -> int:
    value = _optional_int_param(request, name)
    return default if value is None else value


def _optional_int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"query parameter {name} must be an integer, got {raw!r}") from None


# -- pages and session ------------------------------------------------------------------------------
def page(request: Request) -> Response:
    """The single page, with its session embedded (page.py); its data comes from the API after login."""
    board: Board = request.app.state.board
    body, session = _session_body(board, request)
    text = board_page.render(f"{request.scope.get('root_path', '')}/", board.title, body)
    response = HTMLResponse(text, headers={"cache-control": "no-store"})
    _set_cookie(request, response, board, session)
    return response


def _set_cookie(request: Request, response: Response, board: Board, session: Session) -> None:
    response.set_cookie(COOKIE, board.auth.encode(session), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=f"{request.scope.get('root_path', '')}/")


def _session_body(board: Board, request: Request) -> tuple[dict[str, Any], Session]:
    """Who the page is talking to: logged in or not, the CSRF token when it is, read-only or not."""
    session = board.session(request) or board.auth.fresh()
    allowed = board.allows(request)
    body = {"authenticated": allowed, "mode": board.auth.mode, "readOnly": board.read_only, "title": board.title,
            "csrf": board.auth.csrf_token(session) if allowed else None}
    return body, session


def session_info(request: Request) -> Response:
    """The session as JSON (the page embeds the same; it asks again after a login)."""
    board: Board = request.app.state.board
    body, session = _session_body(board, request)
    response = JSONResponse(body, headers={"cache-control": "no-store"})
    _set_cookie(request, response, board, session)
    return response


async def login(request: Request) -> Response:
    board: Board = request.app.state.board
    try:
        given = (await request.json()).get("password")
    except (ValueError, AttributeError):
        given = None
    if not board.auth.password_matches(given):
        await asyncio.sleep(LOGIN_FAILURE_DELAY_S)  # slows guessing; lockouts belong to the proxy
        return JSONResponse(UNAUTHORIZED, status_code=401)
    session = board.auth.fresh(logged_in=True)  # a new nonce: a session fixed before login is worthless
    response = JSONResponse({"authenticated": True, "csrf": board.auth.csrf_token(session)})
    _set_cookie(request, response, board, session)
    return response


def logout(request: Request) -> Response:
    board: Board = request.app.state.board
    response = JSONResponse({"authenticated": False})
    _set_cookie(request, response, board, board.auth.fresh())
    return response


# -- reads -----------------------------------------------------------------------------------------------
@_api()
def api_overview(board: Board, request: Request) -> Any:
    return views.overview(board.app, minutes=_int_param(request, "minutes", 60), roster=board.roster,
                          shared=board.shared)


@_api()
def api_task_jobs(board: Board, request: Request) -> Any:
    return views.task_jobs(board.app, request.path_params["task"], request.query_params.get("state", "waiting"),
                           offset=_int_param(request, "offset", 0), limit=_int_param(request, "limit", 50))


@_api()
def api_job(board: Board, request: Request) -> Any:
    return views.job_detail(board.app, request.path_params["job_id"], request.query_params.get("task"),
                            redact=board.redact)


@_api()
def api_dead_letters(board: Board, request: Request) -> Any:
    return views.dead_letters(board.app, task=request.query_params.get("task") or None,
                              limit=_int_param(request, "limit", 50))


@_api()
def api_schedules(board: Board, request: Request) -> Any:
    return {"schedules": views.schedules(board.app)}


@_api()
def api_workflows(board: Board, request: Request) -> Any:
    return {"workflows": views.workflows(board.app, limit=_int_param(request, "limit", 50))}


@_api()
def api_workflow(board: Board, request: Request) -> Any:
    return views.workflow(board.app, request.path_params["wf_id"])


@_api()
def api_versions(board: Board, request: Request) -> Any:
    return views.versions(board.app, request.query_params.get("task") or None)


# -- actions ----------------------------------------------------------------------------------------------
@_api(write=True)
def api_retry(board: Board, request: Request) -> Any:
    return actions.retry_job(board.app, request.path_params["job_id"])


@_api(write=True)
def api_cancel(board: Board, request: Request) -> Any:
    return actions.cancel_job(board.app, request.path_params["job_id"])


@_api(write=True)
def api_delete(board: Board, request: Request) -> Any:
    return actions.delete_job(board.app, request.path_params["job_id"])


@_api(write=True)
def api_retry_all(board: Board, request: Request) -> Any:
    return actions.retry_all(board.app, request.query_params.get("task") or None)


@_api(write=True)
def api_purge_dead_letters(board: Board, request: Request) -> Any:
    return actions.purge_dead_letters(board.app, request.query_params.get("task") or None)


@_api(write=True)
def api_purge_pending(board: Board, request: Request) -> Any:
    return actions.purge_pending(board.app, request.path_params["task"])


@_api(write=True)
def api_clean(board: Board, request: Request) -> Any:
    query = request.query_params
    return actions.clean_by_age(board.app, request.path_params["task"], query.get("state", "completed"),
                                query.get("olderThan"), _optional_int_param(request, "before"),
                                _optional_int_param(request, "limit"))


@_api(write=True)
def api_cancel_workflow(board: Board, request: Request) -> Any:
    return actions.cancel_workflow(board.app, request.path_params["wf_id"])


@_api(write=True)
def api_schedule_action(board: Board, request: Request) -> Any:
    action = request.path_params["action"]
    if action not in ("pause", "resume", "trigger"):
        raise ConfigurationError(f"unknown schedule action {action!r}: pause, resume or trigger")
    return actions.schedule_action(board.app, request.path_params["name"], action)


# -- live -------------------------------------------------------------------------------------------------
async def api_events(request: Request) -> Response:
    """Server-Sent Events: ``ready`` once no engine event can miss this connection (the page re-reads then:
    see live.py), then a ``jobs`` event per batch of engine events (task, event, jobId)."""
    board: Board = request.app.state.board
    refused = board.refusal(request, write=False)
    if refused is not None:
        return refused
    return StreamingResponse(_sse(board.hub), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


async def _sse(hub: EventHub) -> AsyncIterator[str]:
    queue = hub.subscribe()
    try:
        yield "retry: 2000\n: connected\n\n"
        while True:
            try:
                name, data = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"event: {name}\ndata: {json.dumps(data)}\n\n"
    finally:
        hub.unsubscribe(queue)


def _metrics_route() -> list[Route]:
    """``/metrics`` (Prometheus text) when ``taskora.prometheus`` is installed; behind the board's auth."""
    try:
        prometheus: Any = importlib.import_module("taskora.prometheus")
    except ImportError:
        return []

    @_api()
    def api_metrics(board: Board, request: Request) -> Any:
        return PlainTextResponse(prometheus.render(board.app), media_type="text/plain; version=0.0.4")

    return [Route("/metrics", api_metrics)]


def create_board(app: Taskora, *, auth: str | AuthHook | Literal[False] | None = None, read_only: bool = False,
                 title: str = "taskora", redact: Iterable[str] = DEFAULT_REDACT) -> Starlette:  # fmt: skip
    """The board for ``app`` as an ASGI app.

    ``auth``: None (the default) takes the password from ``TASKORA_BOARD_PASSWORD`` and refuses to build a
    board without one; a string is the password; ``callable(request) -> bool`` lets the host framework decide;
    False turns authentication off. ``read_only`` refuses every action with 403. ``redact``: key names whose
    values are masked wherever they appear in a job's data, result, progress and logs.
    """
    board = Board(app, resolve_auth(auth), bool(read_only), title, Redactor(redact))
    routes = [
        Route("/", page),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/session", session_info),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/logout", logout, methods=["POST"]),
        Route("/api/overview", api_overview),
        Route("/api/tasks/{task}/jobs", api_task_jobs),
        Route("/api/tasks/{task}/purge", api_purge_pending, methods=["POST"]),
        Route("/api/tasks/{task}/clean", api_clean, methods=["POST"]),
        Route("/api/jobs/{job_id}", api_job),
        Route("/api/jobs/{job_id}/retry", api_retry, methods=["POST"]),
        Route("/api/jobs/{job_id}/cancel", api_cancel, methods=["POST"]),
        Route("/api/jobs/{job_id}/delete", api_delete, methods=["POST"]),
        Route("/api/dlq", api_dead_letters),
        Route("/api/dlq/retry-all", api_retry_all, methods=["POST"]),
        Route("/api/dlq/purge", api_purge_dead_letters, methods=["POST"]),
        Route("/api/schedules", api_schedules),
        Route("/api/schedules/{name}/{action}", api_schedule_action, methods=["POST"]),
        Route("/api/workflows", api_workflows),
        Route("/api/workflows/{wf_id}", api_workflow),
        Route("/api/workflows/{wf_id}/cancel", api_cancel_workflow, methods=["POST"]),
        Route("/api/versions", api_versions),
        Route("/api/events", api_events),
        *_metrics_route(),
    ]
    web = Starlette(routes=routes)
    web.state.board = board
    return web
