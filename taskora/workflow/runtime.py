"""The workflow entry points of one app (``app.workflows``): dispatch a composition, end a workflow.

Signatures (signature.py) and handles (handle.py) are values that describe or name a workflow. The code that
stores, advances and ends workflows (dispatch.py, hooks.py, step_options.py) builds and returns those values,
so it imports them; had the values imported that code back (``Signature.dispatch`` calling
``dispatch_workflow``, ``WorkflowHandle.cancel`` calling ``end_workflow``), the seven workflow modules would
import each other around a loop, hidden in function-local imports. Instead every app carries one
WorkflowRuntime, and a value reaches the engine through the app it already knows (its task's, or its own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .dispatch import dispatch_workflow
from .hooks import end_workflow

if TYPE_CHECKING:
    from ..app import Taskora
    from .handle import WorkflowHandle
    from .signature import Composable


class WorkflowRuntime:
    """What the workflow values of ``app`` call: start a composition, fail or cancel a running workflow."""

    def __init__(self, app: Taskora) -> None:
        self.app = app

    def dispatch(self, root: Composable, *, ttl: Any = None, name: str | None = None) -> WorkflowHandle:
        """Flatten ``root``, store it and enqueue its first steps (dispatch.py); the handle of the workflow."""
        return dispatch_workflow(root, ttl=ttl, name=name)

    def end(self, workflow_id: str, final: str, *, node: int | None = None, error: str = "",
            detail: str = "") -> bool:  # fmt: skip
        """Fail or cancel a workflow and settle its open nodes (hooks.py); False when it had already ended."""
        return end_workflow(self.app, workflow_id, final, node=node, error=error, detail=detail)
