"""``@app.task(pydantic=True)``: arguments annotated with a pydantic model arrive as that model, a returned
model is sent back as its JSON dump, and a model the caller passes is sent as its dump (Celery 5.7).

Messages carry JSON, so a model travels as a dict; the task's annotations say which dicts to rebuild.
A model is dumped on the caller's side only when rebuilding the dump gives an equal model back, so
nothing is silently changed: any other value is left to the serializer, as for tasks without the flag.
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import ImproperlyConfigured

__all__ = ["pydantic_wrapper"]

_BY_POSITION = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _base_model() -> Any:
    try:
        from pydantic import BaseModel
    except ModuleNotFoundError as exc:
        raise ImproperlyConfigured("pydantic=True needs pydantic: pip install pydantic") from exc
    return BaseModel


def _optional_inner(annotation: Any) -> Any:
    """``X`` of ``Optional[X]`` / ``X | None``; None for any other annotation."""
    origin = typing.get_origin(annotation)
    if origin is not typing.Union and not (sys.version_info >= (3, 10) and origin is types.UnionType):
        return None
    members = typing.get_args(annotation)
    others = [member for member in members if member is not type(None)]
    return others[0] if len(members) == 2 and len(others) == 1 else None


def _model_class(annotation: Any, base: Any) -> Any:
    """The model class ``annotation`` names (a subclass of ``base``), else None."""
    return annotation if inspect.isclass(annotation) and issubclass(annotation, base) else None


class _Models:
    """What the task's annotations say: the model of each parameter and of the return value."""

    def __init__(self, fun: Callable[..., Any], base: Any) -> None:
        self.base: Any = base
        self.signature = inspect.signature(fun)
        try:
            self.hints: dict[str, Any] = typing.get_type_hints(fun)
        except (NameError, AttributeError, TypeError):  # unresolvable string annotations: the raw ones
            self.hints = {}

    def _annotation(self, name: str) -> Any:
        if name in self.hints:
            return self.hints[name]
        if name == "return":
            return self.signature.return_annotation
        return self.signature.parameters[name].annotation

    def of_argument(self, name: str, value: Any) -> Any:
        annotation = self._annotation(name)
        inner = _optional_inner(annotation)
        if inner is not None and value is not None:
            annotation = inner
        return _model_class(annotation, self.base)

    def of_return(self) -> Any:
        annotation = self._annotation("return")
        return _model_class(_optional_inner(annotation) or annotation, self.base)


def pydantic_wrapper(app: Any, fun: Callable[..., Any], task_name: str, strict: bool = False,
                     context: dict[str, Any] | None = None,
                     dump_kwargs: dict[str, Any] | None = None) -> Callable[..., Any]:  # fmt: skip
    """``fun`` validating its model arguments and dumping a returned model; ``.dump_arguments(args, kwargs,
    bound=)`` dumps the models a caller passes (used by ``apply_async``)."""
    models = _Models(fun, _base_model())
    dump_options = {"mode": "json", **(dump_kwargs or {})}
    full_context = {**(context or {}), "celery_app": app, "celery_task_name": task_name}

    def validate(model: Any, value: Any) -> Any:
        return model.model_validate(value, strict=strict, context=full_context)

    @functools.wraps(fun)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = models.signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            model = models.of_argument(name, value)
            if model is not None:
                bound.arguments[name] = validate(model, value)
        returned = fun(*bound.args, **bound.kwargs)
        model = models.of_return()
        if model is not None and isinstance(returned, model):
            return returned.model_dump(**dump_options)
        return returned

    wrapper.dump_arguments = _ArgumentDumper(models, validate, dump_options)  # type: ignore[attr-defined]
    return wrapper


class _ArgumentDumper:
    """Dumps the models a caller passes that the task would rebuild as equal models."""

    def __init__(self, models: _Models, validate: Callable[[Any, Any], Any], dump_options: dict[str, Any]) -> None:
        self.models, self.validate, self.dump_options = models, validate, dump_options
        parameters = models.signature.parameters.values()
        self.positional = [p.name for p in parameters if p.kind in _BY_POSITION]
        self.keywords = {p.name for p in parameters if p.kind in _BY_KEYWORD}

    def __call__(self, args: Any, kwargs: Any, bound: bool = False) -> tuple[Any, Any]:
        call_args = () if args is None else args
        call_kwargs = {} if kwargs is None else kwargs
        if not isinstance(call_args, (list, tuple)) or not isinstance(call_kwargs, Mapping):
            return args, kwargs  # send_task's own checks report it
        if not any(isinstance(v, self.models.base) for v in (*call_args, *call_kwargs.values())):
            return args, kwargs
        try:
            self.models.signature.bind(*([None] if bound else []), *call_args, **call_kwargs)
        except TypeError:
            return args, kwargs  # the task could not take them either: sent as they are
        names = self.positional[1:] if bound else self.positional
        new_args = [self._dump(names[i] if i < len(names) else None, v) for i, v in enumerate(call_args)]
        new_kwargs = {k: self._dump(k if k in self.keywords else None, v) for k, v in call_kwargs.items()}
        if any(new is not old for new, old in zip(new_args, call_args, strict=True)):
            args = new_args if isinstance(call_args, list) else tuple(new_args)
        if any(new_kwargs[key] is not value for key, value in call_kwargs.items()):
            kwargs = new_kwargs
        return args, kwargs

    def _dump(self, name: str | None, value: Any) -> Any:
        if name is None or not isinstance(value, self.models.base) or hasattr(type(value), "__json__"):
            return value
        model = self.models.of_argument(name, value)
        if model is None:
            return value
        try:
            dumped = value.model_dump(**self.dump_options)
            if self.validate(model, dumped) == value:  # equality includes the class: a subclass stays a model
                return dumped
        except Exception:  # validators that only work on a worker: the model is sent as it is
            return value
        return value
