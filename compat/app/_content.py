"""``accept_content`` / ``result_accept_content``: which content types a Celery app agrees to load.

Celery's worker refuses a message whose content type is not in ``accept_content`` before decoding it
(kombu's ``ContentDisallowed``), and its result backend does the same with ``result_accept_content``. That
is what keeps a pickle payload, written by whoever can reach the broker, from running code in a worker
of an app that only meant to accept JSON. Here every payload of a compat app is written by the app's
``task_serializer``; the serializer installed on the engine loads it only when that content type is
accepted, so the job fails with ``ContentDisallowed`` and its bytes are never handed to the decoder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kombu.exceptions import ContentDisallowed
from kombu.serialization import prepare_accept_content, registry

from taskora.serialization import JsonSerializer, KombuSerializer, Serializer

from ..result import IGNORED_RESULT

__all__ = ["AcceptingSerializer", "accepting_serializer", "content_type_of"]


def content_type_of(serializer_name: str) -> str:
    """The MIME type kombu registers for ``serializer_name`` (``json`` → ``application/json``)."""
    entry = registry._encoders.get(serializer_name)
    return entry[0] if entry is not None else serializer_name


class AcceptingSerializer:
    """The app's serializer, refusing to load what ``accept_content`` (results: ``result_accept_content``)
    does not list. Encoding is never restricted: Celery publishes with any serializer too."""

    def __init__(self, inner: Serializer, accept: Iterable[str], result_accept: Iterable[str] | None) -> None:
        self.inner = inner
        self.name = inner.name
        self.content_type = content_type_of(inner.name)
        self.accept = frozenset(prepare_accept_content(list(accept)))
        self.result_accept = self.accept if result_accept is None else frozenset(
            prepare_accept_content(list(result_accept)))
        #: What every job of a task ignoring its result ends with, encoded on first use rather than per job
        #: (not here: an app that never runs a job must not need its serializer's library installed).
        self._ignored: str | bytes | None = None

    def dumps(self, value: Any) -> str | bytes:
        if value is not IGNORED_RESULT:
            return self.inner.dumps(value)
        if self._ignored is None:
            self._ignored = self.inner.dumps(IGNORED_RESULT)
        return self._ignored

    def loads(self, raw: str | bytes) -> Any:
        """Load job data (and anything else the engine stores), if ``accept_content`` allows this content."""
        self._check(self.accept, "accept_content")
        return self.inner.loads(raw)

    def loads_result(self, raw: str | bytes) -> Any:
        """Load a task's return value, if ``result_accept_content`` (default: ``accept_content``) allows it."""
        self._check(self.result_accept, "result_accept_content")
        return self.inner.loads(raw)

    def _check(self, accepted: frozenset[str], setting: str) -> None:
        if self.content_type not in accepted:
            raise ContentDisallowed(f"Refusing to deserialize untrusted content of type {self.name} "
                                    f"({self.content_type}): {setting} is {sorted(accepted)}")


def accepting_serializer(conf: Any) -> AcceptingSerializer:
    """The engine serializer of a compat app: ``task_serializer``, loading only accepted content."""
    name = conf.get("task_serializer") or "json"
    inner: Serializer = JsonSerializer() if name == "json" else KombuSerializer(name)
    return AcceptingSerializer(inner, conf.get("accept_content") or ("json",), conf.get("result_accept_content"))
