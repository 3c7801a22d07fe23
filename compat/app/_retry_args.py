"""The arguments a retry runs with when it changes how parameters are passed (Celery 5.7, celery#6494).

``self.retry(args=...)`` of a call made with keywords, or ``self.retry(kwargs=...)`` of a call made
positionally, would otherwise give a parameter twice (``got multiple values for argument``): the
inherited values that the new ones replace are dropped, the others are kept.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["retry_arguments"]

_BY_POSITION = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def retry_arguments(run: Callable[..., Any], request_args: Any, request_kwargs: Any, args: Any,
                    kwargs: Any) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
    """``(args, kwargs)`` for the retry: the given ones, else the request's, reconciled with ``run``'s signature."""
    inherited_args, inherited_kwargs = list(request_args or ()), dict(request_kwargs or {})
    new_args = list(args) if args is not None else inherited_args
    new_kwargs = dict(kwargs) if kwargs is not None else inherited_kwargs
    switches = (args is not None and kwargs is None and inherited_kwargs) or (
        kwargs is not None and args is None and inherited_args)
    if not switches:
        return new_args, new_kwargs
    try:
        signature = inspect.signature(run)
    except (TypeError, ValueError):
        return new_args, new_kwargs  # the task's own argument check reports it
    if args is not None:
        return new_args, _without_positional(signature, len(new_args), inherited_kwargs)
    return _positional_replaced(signature, inherited_args, new_kwargs)


def _without_positional(signature: inspect.Signature, count: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Inherited keywords minus those the first ``count`` positional parameters now take."""
    positional = [p for p in signature.parameters.values() if p.kind in _BY_POSITION][:count]
    taken = {p.name for p in positional if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD}
    return {name: value for name, value in kwargs.items() if name not in taken}


def _positional_replaced(signature: inspect.Signature, args: list[Any],
                         kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
    """Inherited positional values, with those a new keyword names replaced in place."""
    try:
        bound = signature.bind_partial(*args)
    except TypeError:
        return args, kwargs
    rest = dict(kwargs)
    for name in list(rest):
        if name in bound.arguments and signature.parameters[name].kind == inspect.Parameter.POSITIONAL_OR_KEYWORD:
            bound.arguments[name] = rest.pop(name)
    return list(bound.args), {**bound.kwargs, **rest}
