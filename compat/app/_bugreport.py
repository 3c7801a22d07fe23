"""``app.bugreport()`` and the URL masking it shares with ``conf.humanize()``.

Celery's report is what people paste into bug trackers, so no password of a broker or result backend
URL may show in it. Result backends are often written as several URLs in one string (Redis Sentinel:
``sentinel://:pw@h1:26379;sentinel://:pw@h2:26379/0``): each of them is masked on its own.
"""

from __future__ import annotations

import platform
from typing import Any

from taskora.urls import mask_url

from .._version import __version__ as api_version

__all__ = ["MASK", "sanitize_url", "bugreport"]

#: What a hidden password reads as (Celery's eight stars).
MASK = "********"

REPORT = """
software -> celery:{api_version} (taskora {engine_version}) kombu:n/a py:{python}
            billiard:{billiard} redis:{redis}
platform -> system:{system} arch:{arch}
            kernel version:{kernel} imp:{implementation}
loader   -> {loader}
settings -> transport:{transport} results:{results}

{settings}
"""


def sanitize_url(url: Any, mask: str = MASK) -> Any:
    """``url`` with every password replaced by ``mask``; a ``;``-joined list of URLs is masked URL by URL.

    Anything that is not a string comes back unchanged (a setting may hold None or a dict).
    """
    if not isinstance(url, str) or "://" not in url:
        return url
    parts = url.split(";")
    if len(parts) > 1 and any("://" in part for part in parts[1:]):
        return ";".join(mask_url(part.strip(), mask=mask) for part in parts)
    return mask_url(url, mask=mask)


def bugreport(app: Any) -> str:
    """What Celery's ``app.bugreport()`` prints: versions, platform, loader, transport, settings (censored)."""
    from taskora import __version__ as engine_version

    return REPORT.format(
        api_version=api_version, engine_version=engine_version, python=platform.python_version(),
        billiard=_version_of("billiard"), redis=_version_of("redis"), system=platform.system(),
        arch=", ".join(part for part in platform.architecture() if part), kernel=platform.release(),
        implementation=platform.python_implementation(), loader=_qualname(type(app.loader)),
        transport=_transport(app.conf.broker_url), results=sanitize_url(app.conf.result_backend or "disabled"),
        settings=app.conf.humanize(),
    )


def _version_of(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "n/a"


def _transport(broker_url: Any) -> str:
    """The broker URL's scheme (``redis``, ``rediss``, ``memory``); taskora's default broker is Redis."""
    return str(broker_url).partition("://")[0] if broker_url else "redis"


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
