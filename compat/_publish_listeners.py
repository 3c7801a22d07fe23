"""Whether anyone listens to a task's publish signals: both publish paths ask before building Celery's message.

A single call (``app/_publish.py``) and a canvas's first tasks (``_canvas_publish.py``) announce themselves with
``before_task_publish``/``after_task_publish``, with a message shaped as Celery's protocol 2. Most apps connect
no receiver, so both build that message only when this says one would hear it; one helper keeps the two paths
agreeing on what "listened" means (a receiver for either signal, connected for the task's name or for any sender).
"""

from __future__ import annotations

from .signals import after_task_publish, before_task_publish

__all__ = ["publish_listened"]


def publish_listened(*task_names: str) -> bool:
    """True when a receiver of ``before_task_publish`` or ``after_task_publish`` hears one of ``task_names``."""
    for name in task_names:  # plain loops: asked on every publish
        if before_task_publish.has_listeners(name) or after_task_publish.has_listeners(name):
            return True
    return False
