"""Celery's ``@app.task(pydantic=True)`` (Celery 5.5+): arguments annotated with a pydantic model are
validated into that model before the function runs, and a returned model whose class matches the return
annotation is dumped (``model_dump(mode="json", **pydantic_dump_kwargs)``). Options, as Celery names them:
``pydantic_strict`` (default False), ``pydantic_context`` (merged with ``celery_app``/``celery_task_name``)
and ``pydantic_dump_kwargs``. A caller's models are dumped at ``apply_async`` when the worker would rebuild
an equal model from the dump (Celery 5.7), so ``add.delay(Model(...))`` sends JSON.

pydantic is imported only when a task asks for it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import ImproperlyConfigured

#: The decorator options this module reads (removed from the task's other options).
PYDANTIC_OPTIONS = ("pydantic", "pydantic_strict", "pydantic_context", "pydantic_dump_kwargs")


def _optional_inner(annotation: Any) -> Any:
    """``X`` for ``Optional[X]`` / ``X | None``; None for any other annotation."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    members = typing.get_args(annotation)
    if len(members) != 2 or type(None) not in members:
        return None
    return next(m for m in members if m is not type(None))


def _model_class(annotation: Any, base: type) -> type | None:
    return annotation if inspect.isclass(annotation) and issubclass(annotation, base) else None


class PydanticTask:
    """The wrapper Celery installs as a ``pydantic=True`` task's ``run``, with ``dump_arguments`` for
    ``apply_async``."""

    def __init__(self, app: Any, fun: Callable[..., Any], name: str, strict: bool = False,
                 context: Mapping[str, Any] | None = None,
                 dump_kwargs: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        try:
            self.base_model: Any = importlib.import_module("pydantic").BaseModel
        except ModuleNotFoundError as exc:
            raise ImproperlyConfigured("You need to install pydantic to use pydantic model serialization.") from exc
        self.fun = fun
        self.strict = strict
        self.context = {**(context or {}), "celery_app": app, "celery_task_name": name}
        self.dump_kwargs = {"mode": "json", **(dump_kwargs or {})}
        self.signature = inspect.signature(fun)
        try:
            self.hints: dict[str, Any] | None = typing.get_type_hints(fun)
        except (NameError, AttributeError, TypeError):  # unresolvable string annotations: read them raw
            self.hints = None

    def annotation(self, name: str) -> Any:
        if self.hints is not None and name in self.hints:
            return self.hints[name]
        if name == "return":
            return self.signature.return_annotation
        return self.signature.parameters[name].annotation

    def model_for(self, name: str, value: Any) -> type | None:
        """The model argument ``name`` is validated with (``Optional[Model]`` only when not None), or None."""
        annotation = self.annotation(name)
        inner = _optional_inner(annotation)
        if inner is not None and value is not None:
            annotation = inner
        return _model_class(annotation, self.base_model)

    def validate(self, model: Any, value: Any) -> Any:
        return model.model_validate(value, strict=self.strict, context=self.context)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        bound = self.signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            model = self.model_for(name, value)
            if model is not None:
                bound.arguments[name] = self.validate(model, value)
        return self.dump_result(self.fun(*bound.args, **bound.kwargs))

    def dump_result(self, value: Any) -> Any:
        """A returned model is dumped only when it is an instance of the (Optional-stripped) return annotation."""
        annotation = self.annotation("return")
        annotation = _optional_inner(annotation) or annotation
        if inspect.isclass(annotation) and isinstance(value, self.base_model) and isinstance(value, annotation):
            model: Any = value
            return model.model_dump(**self.dump_kwargs)
        return value


def pydantic_run(app: Any, fun: Callable[..., Any], name: str, options: dict[str, Any]) -> Callable[..., Any]:
    """``fun`` itself, or its pydantic wrapper when ``options`` (popped here) ask for ``pydantic=True``."""
    settings = {key: options.pop(key, None) for key in PYDANTIC_OPTIONS}
    if settings["pydantic"] is not True:
        return fun
    wrapper = PydanticTask(app, fun, name, bool(settings["pydantic_strict"]), settings["pydantic_context"],
                           settings["pydantic_dump_kwargs"])

    @functools.wraps(fun)
    def run(*args: Any, **kwargs: Any) -> Any:
        return wrapper(*args, **kwargs)

    run.pydantic = wrapper  # type: ignore[attr-defined]
    return run


def dump_arguments(task: Any, args: Any, kwargs: Any) -> tuple[Any, Any]:
    """The caller's models that the worker would rebuild as equal models, dumped; everything else as given."""
    wrapper: PydanticTask | None = getattr(getattr(task, "_decorated_fun_run", None), "pydantic", None)
    if wrapper is None or not isinstance(args, (list, tuple)) or not isinstance(kwargs, Mapping):
        return args, kwargs
    if not any(isinstance(v, wrapper.base_model) for v in (*args, *kwargs.values())):
        return args, kwargs
    bound_self = [None] if getattr(task, "_pydantic_bind", False) else []
    try:
        wrapper.signature.bind(*bound_self, *args, **kwargs)
    except TypeError:  # the worker could not bind them either: left for it to report
        return args, kwargs
    params = wrapper.signature.parameters
    positional = [n for n, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    positional = positional[len(bound_self):]
    keywords = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    new_args = [_dump_one(wrapper, positional[i] if i < len(positional) else None, v) for i, v in enumerate(args)]
    new_kwargs = {k: _dump_one(wrapper, k if k in keywords else None, v) for k, v in kwargs.items()}
    return type(args)(new_args) if isinstance(args, tuple) else new_args, new_kwargs


def _dump_one(wrapper: PydanticTask, name: str | None, value: Any) -> Any:
    """Dump a model when its dump validates back into an equal model (so nothing is lost on the way)."""
    if name is None or not isinstance(value, wrapper.base_model) or hasattr(type(value), "__json__"):
        return value
    model = wrapper.model_for(name, value)
    if model is None:
        return value
    try:
        dumped = value.model_dump(**wrapper.dump_kwargs)
        if wrapper.validate(model, dumped) == value:
            return dumped
    except Exception:  # noqa: BLE001 - a serializer that only works on the worker: the model goes as it is
        pass
    return value
