"""Broker URLs as the CLI prints them: never with a password (a local helper until a shared one exists)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

MASK = "***"


def mask_url(url: str) -> str:
    """``redis://user:secret@host/0?password=x`` -> ``redis://user:***@host/0?password=***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, qmark, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    credentials, at, host = netloc.rpartition("@")
    if at and ":" in credentials:
        netloc = f"{credentials.split(':', 1)[0]}:{MASK}@{host}"
    if query:
        pairs = [(k, MASK if k.lower() == "password" else v) for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="*")
    return f"{scheme}{sep}{netloc}{slash}{path}{qmark}{query}"
