"""Koa-style middleware: each ``mw(ctx, call_next)`` runs code before and after the rest of the chain.

``ctx`` is a MiddlewareContext: the job context plus ``data`` (mutable before ``call_next``) and
``result`` (set after it). A middleware may return a different value to replace the result.

A middleware object may also define ``applies_to(task, fields) -> bool``: when it returns False for
a job, the worker leaves that middleware out of the job's chain, and a job that no middleware
applies to runs its handler directly (no chain, and a context object only for a handler that takes one),
the worker's cheapest path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .context import Context

Middleware = Callable[["MiddlewareContext", Callable[[], Any]], Any]


class MiddlewareContext:
    """What a middleware sees: the job ``ctx``, the input ``data`` and, once computed, ``result``."""

    def __init__(self, ctx: Context, data: Any) -> None:
        self.ctx = ctx
        self.data = data
        self.result: Any = None
        self.task = ctx.task
        self.id = ctx.id
        self.attempt = ctx.attempt

    def __getattr__(self, name: str) -> Any:  # ctx.log, ctx.progress, ctx.signal ... pass through
        return getattr(self.ctx, name)


def compose(middleware: Sequence[Middleware], handler: Callable[[MiddlewareContext], Any]) -> Callable[..., Any]:
    """Build the onion: ``middleware[0]`` outermost, ``handler`` innermost."""
    return _Onion(tuple(middleware), handler)


class _Onion:
    """A composed chain. An object rather than a closure that calls itself: the worker composes one per job,
    and a closure naming itself is a reference cycle, which would keep the job's context and handler alive
    until the cyclic garbage collector came round, instead of freeing them as the job ends."""

    __slots__ = ("_handler", "_middleware")

    def __init__(self, middleware: tuple[Middleware, ...], handler: Callable[[MiddlewareContext], Any]) -> None:
        self._middleware = middleware
        self._handler = handler

    def __call__(self, mctx: MiddlewareContext, index: int = 0) -> Any:
        if index == len(self._middleware):
            mctx.result = self._handler(mctx)
            return mctx.result
        called = False

        def call_next() -> Any:
            nonlocal called
            if called:
                raise RuntimeError("middleware called call_next() twice")
            called = True
            return self(mctx, index + 1)

        returned = self._middleware[index](mctx, call_next)
        if returned is not None:
            mctx.result = returned
        return mctx.result
