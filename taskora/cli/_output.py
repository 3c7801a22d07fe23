"""Output for people and, with ``--json``, for scripts; errors that end the command in one line."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..adapters.base import CONNECTION_ERRORS
from ..errors import BrokerUnreachableError, TaskoraError

F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes, so scripts can tell failures apart.
EXIT_FAILURE = 1
EXIT_APP = 2
EXIT_BROKER = 3


class CliError(click.ClickException):
    """A failure reported as ``Error: <message>`` on stderr with a non-zero exit code."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code  # type: ignore[misc, unused-ignore]  # a ClassVar in click >= 8.5; a per-error code is intended


class AppLoadError(CliError):
    """``-A`` could not be imported or resolved to an app."""

    exit_code = EXIT_APP


class BrokerError(CliError):
    """Redis could not be reached."""

    exit_code = EXIT_BROKER


def broker_errors(fn: F) -> F:
    """Turn 'Redis is down' and engine errors raised by a command into one-line CLI errors."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except BrokerUnreachableError as exc:
            raise BrokerError(str(exc)) from exc
        except CONNECTION_ERRORS as exc:
            raise BrokerError(f"cannot reach the broker: {exc}") from exc
        except TaskoraError as exc:
            raise CliError(f"{type(exc).__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    """Print ``data`` as JSON (``--json``) or through ``human`` (defaults to JSON too)."""
    if as_json or human is None:
        click.echo(json.dumps(data, indent=None if as_json else 2, default=str, sort_keys=True))
    else:
        text = human(data)
        if text:
            click.echo(text)


def parse_json_option(value: str | None, name: str, kind: type) -> Any:
    """Parse a ``--args``/``--kwargs`` style option, naming it when it is not valid JSON of ``kind``."""
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at column {exc.colno})", param_hint=name) from None
    if not isinstance(parsed, kind):
        raise click.BadParameter(f"must be a JSON {kind.__name__}, got {type(parsed).__name__}", param_hint=name)
    return parsed
