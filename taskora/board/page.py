"""The board's one HTML page, as the browser receives it: the CSS and the script inlined, and the visitor's
session (logged in or not, CSRF token, read-only) embedded.

A page load is then one request for the page and one for its data: no round trip for the style sheet,
the script or ``/api/session`` before the data can be asked for (each one costs a browser round trip,
which dominated page load times with a million jobs; see docs/operations/board.md, "How fast it stays").
The files under ``static/`` stay served for tools and for pages that link them.
"""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"
CSS_LINK = '<link rel="stylesheet" href="static/board.css">'
SCRIPT_TAG = '<script src="static/board.js"></script>'
SESSION_TAG = '<script id="board-session" type="application/json">__SESSION__</script>'


@functools.lru_cache(maxsize=1)
def template() -> str:
    """index.html with board.css and board.js inlined (read once per process: they ship in the wheel)."""
    text = (STATIC / "index.html").read_text(encoding="utf-8")
    css = (STATIC / "board.css").read_text(encoding="utf-8")
    script = (STATIC / "board.js").read_text(encoding="utf-8")
    if CSS_LINK not in text or SCRIPT_TAG not in text:
        raise RuntimeError("index.html no longer links static/board.css and static/board.js as page.py expects")
    text = text.replace(CSS_LINK, f"<style>\n{css}</style>")
    return text.replace(SCRIPT_TAG, f"{SESSION_TAG}\n<script>\n{script}</script>")


def render(base: str, title: str, session: dict[str, Any]) -> str:
    """The page for one visitor. ``session`` goes in as JSON that cannot close its script element."""
    embedded = json.dumps(session).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    page = template().replace("__BASE__", html.escape(base)).replace("__TITLE__", html.escape(title))
    return page.replace("__SESSION__", embedded)
