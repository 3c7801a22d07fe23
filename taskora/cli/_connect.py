"""Connecting at startup to a Redis that may not be up yet, as a Celery worker does.

docker-compose starts the worker and Redis together; Celery's worker retries (``broker_connection_
retry_on_startup``, default on) up to ``broker_connection_max_retries`` (default 100) times, sleeping
2, 4, 6 ... up to 30 seconds between tries and logging each one. A worker or beat for a Celery app
reads those settings; a native app gets the same defaults, and ``--connect-retries`` overrides both.
When the retries are spent (or retrying is off) the command ends with exit code 3.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import BrokerUnreachableError
from ..urls import mask_url
from ._output import BrokerError

log = logging.getLogger("taskora.worker")

#: Celery's (kombu's) retry interval: start at 2 s, add 2 s per try, never more than 30 s.
INTERVAL_START_S, INTERVAL_STEP_S, INTERVAL_MAX_S = 2.0, 2.0, 30.0
DEFAULT_MAX_RETRIES = 100


@dataclass(frozen=True)
class RetryPolicy:
    """Whether to retry the first connection, and how many times (None: forever)."""

    retry: bool = True
    max_retries: int | None = DEFAULT_MAX_RETRIES


def retry_policy(source: Any, override: int | None) -> RetryPolicy:
    """From ``--connect-retries`` when given (0 = do not retry), else a Celery app's settings, else defaults."""
    if override is not None:
        return RetryPolicy(retry=override > 0, max_retries=override)
    conf = getattr(source, "conf", None)
    if conf is None or not hasattr(conf, "get"):
        return RetryPolicy()
    on_startup = conf.get("broker_connection_retry_on_startup")
    retry = conf.get("broker_connection_retry", True) if on_startup is None else on_startup
    return RetryPolicy(retry=bool(retry), max_retries=conf.get("broker_connection_max_retries", DEFAULT_MAX_RETRIES))


def retry_intervals() -> Iterator[float]:
    interval = INTERVAL_START_S
    while True:
        yield interval
        interval = min(interval + INTERVAL_STEP_S, INTERVAL_MAX_S)


def broker_label(loaded: Any) -> str:
    """The broker URL to print, password masked (a Celery app's ``broker_url`` when it has one)."""
    conf = getattr(loaded.source, "conf", None)
    url = getattr(conf, "broker_url", None) if conf is not None else None
    return mask_url(str(url)) if url else mask_url(loaded.app.adapter.address)


def connect_with_retry(loaded: Any, policy: RetryPolicy) -> None:
    """``adapter.connect()``, retried per ``policy``; a BrokerError (exit 3) once it gives up."""
    url, tries = broker_label(loaded), 0
    for interval in retry_intervals():
        try:
            loaded.app.adapter.connect()
            return
        except BrokerUnreachableError as exc:
            reason = _reason(exc)
            if not exc.retryable:  # not a Redis, or it refused us: waiting cannot help
                raise BrokerError(str(exc)) from exc
            if not policy.retry or (policy.max_retries is not None and tries >= policy.max_retries):
                raise BrokerError(_gave_up(url, reason, policy, tries)) from exc
        tries += 1
        log.error("consumer: Cannot connect to %s: %s. Trying again in %.2f seconds... (%d/%s)",
                  url, reason, interval, tries, policy.max_retries if policy.max_retries is not None else "inf")
        time.sleep(interval)  # a backoff, as Celery's; SIGTERM meanwhile ends the process (nothing started yet)


def _reason(exc: BaseException) -> str:
    return str(exc.__cause__ or exc).rstrip(".")


def _gave_up(url: str, reason: str, policy: RetryPolicy, tries: int) -> str:
    if not policy.retry:
        return f"cannot reach the broker at {url}: {reason} (retrying on startup is off)"
    return f"cannot reach the broker at {url}: {reason} (gave up after {tries} retries)"
