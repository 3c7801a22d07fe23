"""Schemas: how taskora validates a task's input and output with the libraries users already have.

A *schema* is anything ``as_schema`` can turn into a ``Schema``: a pydantic v2 model class, a pydantic
``TypeAdapter``, a dataclass type, or any object following the small protocol below. pydantic is never
imported here unless the schema (or a value) already comes from it, so taskora runs without it.

The protocol (so msgspec, attrs or a hand-written checker is a few lines)::

    class MySchema:
        def validate(self, value):      # -> the value the handler receives (may be converted)
            ...                         # raise taskora.ValidationError(message, issues) on bad input;
                                        # a ValueError/TypeError becomes one issue on the whole value
        def dump(self, value):          # optional: -> a JSON-able value to store; default: value unchanged
            ...

``issues`` is a list of ``{"path": (...), "message": "..."}``; ``path`` names the field (``("items", 0,
"qty")``), empty for the value as a whole.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from .errors import ConfigurationError, ValidationError


@runtime_checkable
class SchemaProtocol(Protocol):
    """What a user-written schema must offer: ``validate(value) -> value`` raising ValidationError."""

    def validate(self, value: Any) -> Any: ...


class Schema:
    """A uniform face over one schema: ``validate`` (raising ValidationError) and ``dump`` (to JSON-able)."""

    def __init__(self, source: Any, validate: Callable[[Any], Any], dump: Callable[[Any], Any]) -> None:
        self.source = source
        self._validate = validate
        self._dump = dump

    def __repr__(self) -> str:
        return f"<Schema {getattr(self.source, '__name__', self.source)!r}>"

    def validate(self, value: Any, what: str) -> Any:
        """The validated (possibly converted) value; ``what`` ("task 'x' input") heads the error message."""
        try:
            return self._validate(value)
        except ValidationError as exc:
            raise validation_error(what, exc.issues or [issue((), str(exc))]) from None
        except (ValueError, TypeError) as exc:  # pydantic's, msgspec's and attrs' errors are among these
            issues = _pydantic_issues(exc)
            raise validation_error(what, issues if issues is not None else [issue((), _message(exc))]) from exc

    def dump(self, value: Any) -> Any:
        return self._dump(value)


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def issue(path: Sequence[Any], message: str) -> dict[str, Any]:
    """One field error, as ValidationError.issues holds it."""
    return {"path": tuple(path), "message": message}


def format_path(path: Sequence[Any]) -> str:
    """``("items", 0, "qty")`` -> ``items[0].qty``; the empty path is ``<root>``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<root>"


def validation_error(what: str, issues: Sequence[dict[str, Any]]) -> ValidationError:
    """A ValidationError whose message lists every issue with its path."""
    listed = "; ".join(f"{format_path(i.get('path', ()))}: {i.get('message')}" for i in issues)
    count = len(issues)
    return ValidationError(f"{what}: {count} validation error{'s' if count != 1 else ''}: {listed}", list(issues))


def as_schema(value: Any, where: str) -> Schema | None:
    """Turn what a user passed as ``input=``/``output=`` into a Schema; None stays None.

    Raises ConfigurationError naming ``where`` when ``value`` is none of the accepted kinds.
    """
    if value is None or isinstance(value, Schema):
        return value
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None:
        found = _pydantic_schema(pydantic, value)
        if found is not None:
            return found
    if isinstance(value, type) and dataclasses.is_dataclass(value):
        from .schema_dataclasses import DataclassSchema

        value = DataclassSchema(value)
    if isinstance(value, SchemaProtocol) and not isinstance(value, type):
        dump = getattr(value, "dump", None)
        return Schema(value, value.validate, dump if callable(dump) else _identity)
    raise ConfigurationError(
        f"{where}: {value!r} is not a schema; pass a pydantic model class or TypeAdapter, a dataclass type, "
        f"or an object with validate(value) -> value (see taskora.schemas)"
    )


def _identity(value: Any) -> Any:
    return value


def _pydantic_schema(pydantic: Any, value: Any) -> Schema | None:
    """A pydantic model class or TypeAdapter as a Schema (pydantic is already imported by the caller)."""
    if isinstance(value, type) and issubclass(value, pydantic.BaseModel):
        model: Any = value
        return Schema(model, model.model_validate, dump_value)
    if isinstance(value, pydantic.TypeAdapter):
        adapter = value
        return Schema(adapter, adapter.validate_python, lambda v: adapter.dump_python(v, mode="json"))
    return None


def _pydantic_issues(exc: Exception) -> list[dict[str, Any]] | None:
    """pydantic's ValidationError as our issues (every error, with its location), or None for other errors."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(exc, pydantic.ValidationError):
        return None
    return [issue(error.get("loc", ()), error.get("msg", "")) for error in exc.errors()]


def dump_value(value: Any) -> Any:
    """A pydantic model stored as JSON (a dict); anything else as it is, for the serializer to handle (a
    pickle serializer keeps a dataclass whole, so only a schema's ``dump`` turns one into a dict)."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return value
