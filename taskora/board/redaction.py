"""Masking secrets in what the board shows: any key of a job's data, result, progress or log entries whose
name is on the board's list (case-insensitive, ``-`` and ``_`` alike) has its value replaced, at any depth,
on the server, before the response leaves the process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ConfigurationError

MASK = "****"
#: Key names masked unless ``create_board(redact=...)`` says otherwise.
DEFAULT_REDACT = ("password", "passwd", "secret", "token", "api_key", "apikey", "access_key", "secret_key",
                  "authorization", "cookie", "credit_card", "card_number", "cvv", "ssn")


def _norm(name: str) -> str:
    return name.lower().replace("-", "_")


class Redactor:
    """Masks the values of the configured key names inside JSON-like values."""

    def __init__(self, names: Iterable[str]) -> None:
        if isinstance(names, str):
            raise ConfigurationError(f"redact takes a list of key names, got the string {names!r}")
        listed = list(names)
        bad = [n for n in listed if not isinstance(n, str) or not n]
        if bad:
            raise ConfigurationError(f"redact takes non-empty key names (strings), got {bad!r}")
        self.names = frozenset(_norm(n) for n in listed)

    def __call__(self, value: Any) -> Any:
        if not self.names:
            return value
        if isinstance(value, dict):
            return {k: MASK if isinstance(k, str) and _norm(k) in self.names else self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value
