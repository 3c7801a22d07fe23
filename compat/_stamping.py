"""Canvas stamping (Celery 5.3+): custom headers put on every signature of a canvas, seen by the tasks.

``sig.stamp(visitor=None, append_stamps=False, **headers)`` records each stamp as a signature option
plus the list of stamp names in ``options['stamped_headers']``; a :class:`StampingVisitor` decides per
signature (``on_signature``), per group/chain/chord and per link (``on_callback``/``on_errback``). When
the signature is sent, the stamps travel as message headers, so the running task sees
``self.request.stamped_headers`` (the names) and ``self.request.stamps`` (``{name: value}``).

Merging follows Celery's rules: a stamp already on the signature keeps its value unless
``append_stamps=True``, which gathers the values into a list; list values are concatenated and dict
values merged key by key.
"""

from __future__ import annotations

import copy
from typing import Any

from ._canvas_api import canvas

__all__ = ["StampingVisitor", "merge_stamps", "stamp_headers", "stamp_links", "stamps_as_headers"]


class StampingVisitor:
    """Decides the stamps of each part of a canvas; subclasses implement at least :meth:`on_signature`."""

    def on_signature(self, sig: Any, **headers: Any) -> dict[str, Any]:
        """The stamps for one task signature."""
        raise NotImplementedError(f"{type(self).__name__} must implement on_signature(sig, **headers)")

    def on_group_start(self, group: Any, **headers: Any) -> dict[str, Any]:
        return {}

    def on_group_end(self, group: Any, **headers: Any) -> None:
        """After every member of a group was stamped."""

    def on_chain_start(self, chain: Any, **headers: Any) -> dict[str, Any]:
        return {}

    def on_chain_end(self, chain: Any, **headers: Any) -> None:
        """After every step of a chain was stamped."""

    def on_chord_header_start(self, sig: Any, **header: Any) -> dict[str, Any]:
        """A chord's header is stamped as a group."""
        return self.on_group_start(sig.tasks, **header)

    def on_chord_header_end(self, sig: Any, **header: Any) -> None:
        self.on_group_end(sig.tasks, **header)

    def on_chord_body(self, sig: Any, **header: Any) -> dict[str, Any]:
        return {}

    def on_callback(self, callback: Any, **header: Any) -> dict[str, Any]:
        return {}

    def on_errback(self, errback: Any, **header: Any) -> dict[str, Any]:
        return {}


def merge_stamps(into: dict[str, Any], other: dict[str, Any] | None, aggregate: bool) -> None:
    """Merge ``other`` into ``into`` in place: dicts recurse, lists concatenate, a scalar already in ``into``
    stays unless ``aggregate`` (then both values are kept in a list); new keys are added."""
    if not other:
        return
    for key, value in list(into.items()):
        if key not in other:
            continue
        theirs = other[key]
        if isinstance(value, dict) and isinstance(theirs, dict):
            merge_stamps(value, theirs, aggregate)
        elif isinstance(value, list) and isinstance(theirs, list):
            value.extend(theirs)
        elif aggregate:
            mine = [] if value is None else (list(value) if isinstance(value, (list, tuple)) else [value])
            into[key] = [*mine, theirs]
    for key, theirs in other.items():
        into.setdefault(key, theirs)


def stamp_headers(sig: Any, visitor_headers: dict[str, Any] | None, append_stamps: bool,
                  self_headers: bool = True, **headers: Any) -> dict[str, Any]:  # fmt: skip
    """The stamps for ``sig``: the given headers, the visitor's, and (``self_headers``) those it already has."""
    headers = dict(headers)
    headers.setdefault("stamped_headers", [k for k in headers if k != "stamped_headers"])
    if visitor_headers is not None:
        visitor_headers = dict(visitor_headers)
        visitor_headers.setdefault("stamped_headers", list(visitor_headers))
        merge_stamps(headers, visitor_headers, append_stamps)
        headers["stamped_headers"] = _unique(headers["stamped_headers"])
    if self_headers:
        names = _unique([*headers.get("stamped_headers", []), *sig.options.get("stamped_headers", [])])
        headers["stamped_headers"] = names
        merge_stamps(headers, {k: v for k, v in sig.options.items() if k in names}, append_stamps)
        headers["stamped_headers"] = _unique(headers["stamped_headers"])
    return headers


def stamp_links(sig: Any, visitor: StampingVisitor | None, append_stamps: bool, **headers: Any) -> None:
    """Stamp ``sig``'s callbacks and errbacks (with the given stamps, not ``sig``'s own)."""
    for option, hook in (("link", "on_callback"), ("link_error", "on_errback")):
        link_headers = copy.deepcopy(headers)
        for link in _as_list(sig.options.get(option)):
            link = canvas().maybe_signature(link, app=sig._app)
            extra = getattr(visitor, hook)(link, **link_headers) or {} if visitor is not None else None
            link_headers = stamp_headers(link, extra, append_stamps, self_headers=False, **link_headers)
            link.stamp(visitor, append_stamps, **link_headers)


def stamps_as_headers(options: dict[str, Any]) -> dict[str, Any]:
    """The message headers carrying a signature's stamps (``stamped_headers`` and ``stamps``)."""
    names = [n for n in options.get("stamped_headers") or () if n != "stamped_headers"]
    if not names:
        return {}
    stamps = {name: options.get(name) for name in names}
    return {"stamped_headers": names, "stamps": stamps, **stamps}


def _unique(names: Any) -> list[str]:
    return list(dict.fromkeys(n for n in names if n != "stamped_headers"))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
