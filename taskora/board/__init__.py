"""The taskora board: see and operate the queue from a browser (``pip install 'taskora[board]'``).

``create_board(app)`` is an ASGI app (Starlette); ``taskora board -A proj`` serves it with uvicorn. The core
package never imports this one, so taskora without the extra has no web dependencies.
"""

from __future__ import annotations

from .app import create_board
from .security import PASSWORD_ENV

__all__ = ["create_board", "PASSWORD_ENV"]
