"""A synchronous face for the asyncio libraries (arq, Taskiq): one event loop per driver.

The scenarios are synchronous code; an asyncio library's client calls run here on the driver's
own loop. Timed loops that would otherwise enter the loop once per job (``dispatch_each``) run as
one coroutine instead, the way an asyncio program enqueues, so the loop's entry cost is not
charged to the library.
"""

from __future__ import annotations

import asyncio


class AsyncDriver:
    """Subclasses implement ``adispatch(payload)``; this runs it synchronously or in one coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    async def adispatch(self, payload: dict):
        raise NotImplementedError

    def dispatch(self, payload: dict):
        return self.run(self.adispatch(payload))

    def dispatch_each(self, payloads: list[dict]) -> list:
        """Dispatch one job after the other, each awaited before the next, in one coroutine."""
        async def each() -> list:
            return [await self.adispatch(p) for p in payloads]
        return self.run(each())

    def close_loop(self) -> None:
        self.loop.close()
