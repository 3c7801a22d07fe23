"""Showing a broker URL without its secrets: ``mask_url`` is what banners, reprs, logs and errors print.

A Redis URL carries its password either as userinfo (``redis://user:pw@host``, ``redis://:pw@host``) or as
a query parameter (``?password=pw``); both are replaced by ``****``. Everything else (scheme, user, host,
port, database, other parameters) is kept, since that is what a reader needs to tell brokers apart.
"""

from __future__ import annotations

import re

__all__ = ["mask_url", "MASK"]

MASK = "****"

#: ``password=`` (any case) in a query string, up to the next ``&``, ``#`` or the end.
_QUERY_PASSWORD = re.compile(r"(?i)([?&;]password=)[^&#;]*")


def mask_url(url: str, *, mask: str = MASK) -> str:
    """``url`` with every password in it replaced by ``mask``; text that is not a URL comes back unchanged.

    >>> mask_url("redis://:s3cret@cache:6379/0")
    'redis://:****@cache:6379/0'
    >>> mask_url("redis://cache:6379/0?password=s3cret&ssl_cert_reqs=none")
    'redis://cache:6379/0?password=****&ssl_cert_reqs=none'
    """
    if not isinstance(url, str):
        return repr(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    if "@" in _authority(rest):
        return f"{scheme}://{_mask_userinfo(rest, mask)}"
    return f"{scheme}://{_mask_query(rest, mask)}"


def _authority(rest: str) -> str:
    """The ``user:password@host:port`` part: up to the first ``/``, ``?`` or ``#`` after the last ``@``."""
    at = rest.rfind("@", 0, _end_of_authority(rest))
    return rest[: _end_of_authority(rest, max(at, 0))]


def _end_of_authority(rest: str, start: int = 0) -> int:
    ends = [i for i in (rest.find(c, start) for c in "/?#") if i >= 0]
    return min(ends) if ends else len(rest)


def _mask_userinfo(rest: str, mask: str) -> str:
    """Mask the password of ``user:password@host...`` (a password may itself hold ``@`` or ``:``)."""
    authority = _authority(rest)
    credentials, _, host = authority.rpartition("@")
    user, colon, _ = credentials.partition(":")
    masked = f"{user}:{mask}@{host}" if colon else f"{user}@{host}"
    return masked + _mask_query(rest[len(authority):], mask)


def _mask_query(text: str, mask: str) -> str:
    return _QUERY_PASSWORD.sub(lambda m: m.group(1) + mask, text)
