"""Who may use the board, and proof that a state-changing request came from the board's own page.

Three ways in, chosen once when the board is built (``resolve_auth``):

* a password (``auth="..."``, or ``TASKORA_BOARD_PASSWORD`` in the environment): the login form sets a
  signed, HttpOnly, SameSite=Strict session cookie;
* a hook (``auth=lambda request: bool``): the host framework's own authentication decides per request;
* none (``auth=False``, ``taskora board --no-auth``): only ever by an explicit choice.

Every browser gets a session cookie holding a random nonce (and, after a password login, a logged-in flag),
signed with a per-process secret. The CSRF token is an HMAC of that nonce: a page of the board reads it
from ``/api/session`` and sends it in the ``X-CSRF-Token`` header of each POST; another site can neither
read it nor forge it, so a cross-site form or fetch is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError

log = logging.getLogger("taskora.board")

PASSWORD_ENV = "TASKORA_BOARD_PASSWORD"
COOKIE = "taskora_board_session"
CSRF_HEADER = "x-csrf-token"

AuthHook = Callable[[Any], bool]


@dataclass(frozen=True)
class Session:
    """What a request's cookie says: its nonce, and whether it logged in with the password."""

    nonce: str
    logged_in: bool


@dataclass
class BoardAuth:
    """The board's chosen way in, and the per-process secret its cookies and CSRF tokens are signed with."""

    mode: str  # "password" | "hook" | "none"
    password: str | None = None
    hook: AuthHook | None = None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    # -- the session cookie -------------------------------------------------------------------
    def _sign(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()

    def encode(self, session: Session) -> str:
        body = f"{session.nonce}.{int(session.logged_in)}"
        return f"{body}.{self._sign(body)}"

    def decode(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, or None when it is missing or was not signed by this board."""
        nonce, _, rest = (cookie or "").partition(".")
        flag, _, signature = rest.partition(".")
        if not nonce or flag not in ("0", "1") or not hmac.compare_digest(self._sign(f"{nonce}.{flag}"), signature):
            return None
        return Session(nonce, flag == "1")

    @staticmethod
    def fresh(logged_in: bool = False) -> Session:
        return Session(secrets.token_urlsafe(18), logged_in)

    # -- decisions ------------------------------------------------------------------------------
    def allows(self, request: Any, session: Session | None) -> bool:
        """May this request read the board?"""
        if self.mode == "none":
            return True
        if self.mode == "password":
            return session is not None and session.logged_in
        try:
            return bool(self.hook(request)) if self.hook is not None else False
        except Exception:  # a failing hook refuses, it never lets a request through
            log.exception("the board's auth hook raised; refusing the request")
            return False

    def password_matches(self, given: Any) -> bool:
        if self.mode != "password" or self.password is None or not isinstance(given, str):
            return False
        return hmac.compare_digest(given.encode(), self.password.encode())

    def csrf_token(self, session: Session) -> str:
        return self._sign(f"csrf:{session.nonce}")

    def csrf_ok(self, session: Session | None, header: str | None) -> bool:
        return session is not None and bool(header) and hmac.compare_digest(self.csrf_token(session), header or "")


def resolve_auth(auth: Any) -> BoardAuth:
    """``auth`` as given to ``create_board``: None reads the password from the environment and refuses to
    build a board without one; False turns authentication off; a string is the password; a callable is a hook."""
    if auth is False:
        return BoardAuth("none")
    if auth is None:
        password = os.environ.get(PASSWORD_ENV, "")
        if not password:
            raise ConfigurationError(
                f"the board needs authentication: set {PASSWORD_ENV}, pass auth='<password>' or "
                "auth=<callable(request) -> bool>, or auth=False (taskora board --no-auth) to run without")
        return BoardAuth("password", password=password)
    if isinstance(auth, str):
        if not auth:
            raise ConfigurationError("the board password (auth=...) must not be empty")
        return BoardAuth("password", password=auth)
    if callable(auth):
        return BoardAuth("hook", hook=auth)
    raise ConfigurationError(f"auth must be a password string, a callable(request) -> bool, None or False; "
                             f"got {type(auth).__name__}")
