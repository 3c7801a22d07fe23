"""A schema for dataclasses: the worked example of the schema protocol (taskora/schemas.py).

It checks what a dataclass declares and nothing more: required fields present, no unknown fields, and a
field annotated with a plain class (``int``, ``str``, another dataclass...) holding an instance of it. It is
deliberately small; for coercion and constraints use pydantic (``pip install taskora[pydantic]``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any

from .errors import ValidationError


class DataclassSchema:
    """``validate(dict) -> dataclass instance``, ``dump(instance) -> dict``; passing the dataclass type as
    ``input=`` wraps it in this automatically."""

    def __init__(self, cls: type[Any]) -> None:
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"DataclassSchema needs a dataclass type, got {cls!r}")
        self.cls = cls
        self.__name__ = cls.__name__
        self._hints = typing.get_type_hints(cls)

    def validate(self, value: Any) -> Any:
        if isinstance(value, self.cls):
            return value
        issues = self._issues(value, ())
        if issues:
            raise ValidationError(f"not a valid {self.cls.__name__}", issues)
        return self._build(self.cls, value)

    def dump(self, value: Any) -> Any:
        return dataclasses.asdict(value) if isinstance(value, self.cls) else value

    def _issues(self, value: Any, path: tuple[Any, ...], cls: type[Any] | None = None) -> list[dict[str, Any]]:
        cls = cls or self.cls
        if not isinstance(value, Mapping):
            return [{"path": path, "message": f"expected an object for {cls.__name__}, got {type(value).__name__}"}]
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        issues = [{"path": (*path, name), "message": "unknown field"} for name in value if name not in fields]
        for name, field in fields.items():
            if name not in value:
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                    issues.append({"path": (*path, name), "message": "field required"})
                continue
            issues += self._field_issues(value[name], hints.get(name), (*path, name))
        return issues

    def _field_issues(self, value: Any, hint: Any, path: tuple[Any, ...]) -> list[dict[str, Any]]:
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return [] if isinstance(value, hint) else self._issues(value, path, hint)
        if not isinstance(hint, type) or hint is Any:
            return []  # generics and unions are left unchecked: this schema is an example, not a validator
        ok = isinstance(value, hint) and not (hint is int and isinstance(value, bool))
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        return [] if ok else [{"path": path, "message": f"expected {hint.__name__}, got {type(value).__name__}"}]

    def _build(self, cls: type[Any], value: Mapping[str, Any]) -> Any:
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for name, item in value.items():
            hint = hints.get(name)
            nested = isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(item, Mapping)
            kwargs[name] = self._build(hint, item) if nested else item  # type: ignore[arg-type]
        return cls(**kwargs)
