"""Exception transport helpers (``celery.utils.serialization``)."""

from __future__ import annotations

import pickle
from typing import Any

from .._exception_transport import rebuild_exception

__all__ = ["UnpickleableExceptionWrapper", "get_pickleable_exception", "create_exception_cls"]


def _pickleable(value: Any) -> Any:
    try:
        pickle.loads(pickle.dumps(value))
    except Exception:
        return repr(value)
    return value


class UnpickleableExceptionWrapper(Exception):  # noqa: N818 - Celery's public name
    """Stands in for an exception that cannot be pickled: its module, class name and arguments (as repr
    where they cannot be pickled either); :meth:`restore` rebuilds an exception of that class."""

    def __init__(self, exc_module: str, exc_cls_name: str, exc_args: Any, text: str | None = None) -> None:
        safe_args = tuple(_pickleable(arg) for arg in exc_args or ())
        self.exc_module = exc_module
        self.exc_cls_name = exc_cls_name
        self.exc_args = safe_args
        self.text = text
        super().__init__(exc_module, exc_cls_name, safe_args, text)

    def restore(self) -> BaseException:
        return rebuild_exception({"module": self.exc_module, "type": self.exc_cls_name, "args": list(self.exc_args)})

    def __str__(self) -> str:
        return self.text or ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> UnpickleableExceptionWrapper:
        wrapper = cls(type(exc).__module__, type(exc).__name__, getattr(exc, "args", ()), repr(exc))
        return wrapper.with_traceback(exc.__traceback__)


def get_pickleable_exception(exc: BaseException) -> BaseException:
    """``exc`` itself when it survives pickling, else its :class:`UnpickleableExceptionWrapper`."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return UnpickleableExceptionWrapper.from_exception(exc)
    return exc


def create_exception_cls(name: str, module: str, parent: type[BaseException] | None = None) -> type[BaseException]:
    """A new exception class ``module.name`` (subclass of ``parent``, default ``Exception``)."""
    return type(name, (parent or Exception,), {"__module__": module})
