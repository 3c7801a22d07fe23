"""Finding NaN and ±Infinity in a payload, to name where they are when refusing it.

Python's json writes them as bare ``NaN``/``Infinity`` tokens, which are not JSON: a TypeScript taskora
(``JSON.parse``) and most other readers reject the whole payload. ``JSON.stringify`` itself would turn
them into ``null``, silently changing the value; we refuse them instead, with the path of the first one,
so the producer (or the handler returning it) learns at once which value to fix.
"""

from __future__ import annotations

import math
from typing import Any


def first_non_finite(value: Any, path: str = "$") -> tuple[str, float] | None:
    """The path (``$['a'][2]``) and value of the first NaN or infinite float in ``value``; None when none."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, dict):
        items: Any = ((f"{path}[{k!r}]", v) for k, v in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for sub_path, item in items:
        found = first_non_finite(item, sub_path)
        if found is not None:
            return found
    return None
