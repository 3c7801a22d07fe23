"""``app.control.broadcast``: send any remote-control command (built in or ``@control_command``) to workers."""

from __future__ import annotations

from typing import Any

__all__ = ["BroadcastMixin"]


class BroadcastMixin:
    """Adds Celery's ``broadcast`` to ``app.control`` (a mixin of :class:`~.control.Control`)."""

    app: Any

    def broadcast(self, command: str, arguments: dict[str, Any] | None = None, destination: Any = None,
                  connection: Any = None, reply: bool = False, timeout: float = 1.0, limit: int | None = None,
                  callback: Any = None, channel: Any = None, pattern: Any = None, matcher: Any = None,
                  **extra_kwargs: Any) -> list[dict[str, Any]] | None:  # fmt: skip
        """Send ``command`` with ``arguments``; with ``reply=True``, ``[{hostname: reply}, ...]`` of those answering.

        Raises:
            ValueError: ``command`` is not a non-empty string, or ``arguments`` not a dict.
        """
        if not isinstance(command, str) or not command:
            raise ValueError(f"broadcast needs a command name, got {command!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise ValueError(f"broadcast arguments must be a dict, got {arguments!r}")
        targets = [destination] if isinstance(destination, str) else destination
        native = self.app.__taskora_app__
        replies = native.broadcast(command, args=arguments or {}, timeout=timeout if reply else 0.0,
                                   destination=targets or None)
        if not reply:
            return None
        answers = [{host: answer} for host, answer in sorted(replies.items())]
        for answer in answers:
            if callback is not None:
                callback(answer)
        return answers[:limit] if limit else answers
