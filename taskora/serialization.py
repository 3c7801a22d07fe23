"""Payload serialization. JSON by default; any serializer registered with kombu by name.

The JSON form tags the Python types JSON cannot carry (datetime, date, time, Decimal, UUID, bytes,
tuples, sets) as ``{"__type__": name, "__value__": text}`` so they come back as the same type, the
way kombu's JSON does. Plain JSON values stay plain, so a TypeScript taskora reads them unchanged.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

from .errors import ConfigurationError, SerializationError
from .nonfinite import first_non_finite


class Serializer(Protocol):
    """Turns job data and results into stored text/bytes and back."""

    name: str

    def dumps(self, value: Any) -> str | bytes: ...

    def loads(self, raw: str | bytes) -> Any: ...


_TAG, _VALUE = "__type__", "__value__"

_ENCODERS: dict[type, tuple[str, Callable[[Any], Any]]] = {
    datetime: ("datetime", lambda v: v.isoformat()),
    date: ("date", lambda v: v.isoformat()),
    time: ("time", lambda v: v.isoformat()),
    Decimal: ("decimal", str),
    uuid.UUID: ("uuid", str),
    bytes: ("bytes", lambda v: base64.b64encode(v).decode("ascii")),
}

_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "decimal": Decimal,
    "uuid": uuid.UUID,
    "bytes": base64.b64decode,
    "tuple": tuple,
    "set": set,
}

_PLAIN = (str, int, float, bool, type(None))


def _tag_containers(value: Any) -> Any:
    """Wrap tuples and sets, which json would flatten to lists silently; returns ``value`` itself if untouched."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        out = {k: _tag_containers(v) for k, v in value.items()}
        return out
    if isinstance(value, list):
        return [_tag_containers(v) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {_TAG: "tuple", _VALUE: [_tag_containers(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {_TAG: "set", _VALUE: [_tag_containers(v) for v in value]}
    return value


def _encode_default(value: Any) -> Any:
    # datetime is a subclass of date: look the exact type up first.
    for cls in (type(value), *type(value).__mro__[1:]):
        entry = _ENCODERS.get(cls)
        if entry is not None:
            return {_TAG: entry[0], _VALUE: entry[1](value)}
    if hasattr(value, "_fields"):  # namedtuple: a list, as Celery's JSON sends it
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _decode_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 2 and _TAG in obj and _VALUE in obj:
        decoder = _DECODERS.get(obj[_TAG])
        if decoder is not None:
            return decoder(obj[_VALUE])
    return obj


_PLAIN_TYPES = frozenset(_PLAIN)


def _needs_tagging(value: Any) -> bool:
    """Whether ``value`` holds a tuple or set anywhere (checked on every dispatch: plain loops, exact types first)."""
    if type(value) in _PLAIN_TYPES or isinstance(value, _PLAIN):
        return False
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return isinstance(value, (tuple, set, frozenset))
    for item in value:
        if type(item) not in _PLAIN_TYPES and _needs_tagging(item):
            return True
    return False


#: Built once: ``json.dumps``/``json.loads`` with options build a new encoder/decoder on every call, a
#: measurable share of a worker's per-job time.
_ENCODER = json.JSONEncoder(default=_encode_default, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class _ThreadEncoder(threading.local):
    """The C encoder behind ``_ENCODER``, made once per thread.

    ``JSONEncoder.encode`` makes a new C encoder on every call, which is most of the cost of encoding a
    small payload (3.6 µs of 5.3 for ``{"i": 1}`` here), paid on every dispatch and every result. One
    per thread, because its ``markers`` (the containers being encoded, for cycle detection) must not be
    shared by two encodes at once; they are cleared after a failed encode, which leaves some behind.
    """

    def __init__(self) -> None:
        make = getattr(json.encoder, "c_make_encoder", None)  # private, so absent from typeshed
        self.markers: dict[int, Any] = {}
        self.encode: Callable[[Any, int], Any] | None = None
        if make is not None:  # None without CPython's C accelerator: _ENCODER.encode does the work
            self.encode = make(self.markers, _encode_default, json.encoder.encode_basestring, None, ":", ",",
                               False, False, False)  # allow_nan=False: see taskora/nonfinite.py


_THREAD_ENCODER = _ThreadEncoder()


def _encode_json(value: Any) -> str:
    encoder = _THREAD_ENCODER
    if encoder.encode is None:
        return _ENCODER.encode(value)
    try:
        return "".join(encoder.encode(value, 0))
    except BaseException:
        encoder.markers.clear()
        raise


_DECODER = json.JSONDecoder(object_hook=_decode_hook)
_BOM_STARTS = (b"\xef", b"\xfe", b"\xff")


def _json_text(raw: str | bytes | bytearray) -> str:
    """Stored JSON as text. Every writer stores UTF-8; a byte-order mark or UTF-16/32 (a NUL among the
    first bytes of JSON text) goes through the standard library's detection instead."""
    if isinstance(raw, str):
        return raw
    if raw[:1] in _BOM_STARTS or b"\x00" in raw[:4]:
        return raw.decode(json.detect_encoding(raw), "surrogatepass")
    return raw.decode("utf-8", "surrogatepass")


class JsonSerializer:
    """The default serializer: compact JSON text with type tags for non-JSON Python values."""

    name = "json"

    def dumps(self, value: Any) -> str:
        if value is None:  # what most handlers return
            return "null"
        try:
            text = _encode_json(_tag_containers(value) if _needs_tagging(value) else value)
        except (TypeError, ValueError) as exc:
            raise SerializationError(_refusal(value, exc)) from exc
        except RecursionError as exc:
            raise SerializationError(f"cannot serialize {_describe(value)} as JSON: it contains itself, or is "
                                     f"nested deeper than Python's recursion limit") from exc
        if not text.isascii():
            _check_utf8(text)
        return text

    def loads(self, raw: str | bytes) -> Any:
        if raw is None:
            return None
        return _DECODER.decode(_json_text(raw))


class KombuSerializer:
    """Any serializer registered in kombu's registry (pickle, msgpack, yaml, or a custom one)."""

    def __init__(self, name: str) -> None:
        from kombu.serialization import registry

        if name not in registry._encoders:
            raise ConfigurationError(
                f"unknown serializer {name!r}; registered: {', '.join(sorted(registry._encoders))}"
            )
        self.name = name
        self._registry: Any = registry  # kombu's registry methods are unannotated
        self._content_type, self._encoding, _ = registry._encoders[name]

    def dumps(self, value: Any) -> bytes:
        try:
            _, _, payload = self._registry.dumps(value, serializer=self.name)
        except Exception as exc:
            raise SerializationError(f"cannot serialize {_describe(value)} with {self.name}: {exc}") from exc
        return payload.encode("utf-8") if isinstance(payload, str) else payload

    def loads(self, raw: str | bytes) -> Any:
        if raw is None:
            return None
        return self._registry.loads(raw, self._content_type, self._encoding, accept={self._content_type})


def _check_utf8(text: str) -> None:
    """Refuse text Redis cannot store: a lone surrogate (``"\\ud800"``) has no UTF-8 form, and would fail
    later, as a bare UnicodeEncodeError inside the Redis client, with no word on which value was wrong."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SerializationError(f"cannot serialize as JSON: the text holds {text[exc.start]!r} (a lone UTF-16 "
                                 f"surrogate, at character {exc.start} of the encoded payload), which has no "
                                 "UTF-8 form") from exc


def _refusal(value: Any, exc: Exception) -> str:
    """Why ``value`` cannot be JSON; for NaN/Infinity, where it is (taskora/nonfinite.py)."""
    found = first_non_finite(value) if isinstance(exc, ValueError) else None
    if found is not None:
        return (f"cannot serialize {_describe(value)} as JSON: {found[0]} is {found[1]!r}, "
                "which JSON cannot carry (a TypeScript reader would reject the payload); use None or a string")
    return f"cannot serialize {_describe(value)} as JSON: {exc}"


def _describe(value: Any) -> str:
    """A short repr for an error message; never fails (a deeply nested value cannot even be repr'd)."""
    try:
        text = repr(value)
    except RecursionError:
        return f"a {type(value).__name__} nested too deep to show"
    except Exception:
        return f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


#: Serializers that run code from the payload when they load it. Whoever can write to the store (a shared
#: Redis, a leaked password) then runs code in every worker, so using one must be asked for by name.
UNSAFE_SERIALIZERS = frozenset({"pickle"})


def get_serializer(spec: str | Serializer | None, *, allow_pickle: bool = False) -> Serializer:
    """Resolve a serializer given by name (``"json"``, ``"msgpack"``…) or as an object with dumps/loads.

    ``"pickle"`` is refused unless ``allow_pickle=True``: loading a pickle runs code chosen by whoever wrote it.
    """
    if spec is None or spec == "json":
        return JsonSerializer()
    if isinstance(spec, str):
        if spec in UNSAFE_SERIALIZERS and not allow_pickle:
            raise ConfigurationError(
                f"serializer {spec!r}: loading it runs code from whoever can write to the store; pass "
                f"allow_pickle=True to use it anyway, or use 'json' (the default) or 'msgpack'"
            )
        return KombuSerializer(spec)
    if callable(getattr(spec, "dumps", None)) and callable(getattr(spec, "loads", None)):
        return spec
    raise ConfigurationError(f"serializer must be a name or an object with dumps/loads, got {spec!r}")
