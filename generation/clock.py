"""Time, as everything that waits for it sees it: handed in, never read from `time` directly.

Throttles, cooldowns, budgets, watchdogs and grace periods take a `Clock`, so production runs on the
system clock while tests run on one they move by hand and never race the machine's speed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Final, Protocol, TypeVar

_T = TypeVar("_T")


class Clock(Protocol):
    """Wall time, monotonic time, and sleeping on the same scale."""

    def time(self) -> float:
        """Seconds since the epoch (timestamps shown to people and stored)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a scale that never goes back (intervals and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after `seconds` have passed on this clock."""
        ...


class SystemClock:
    """The machine's clocks and asyncio's sleep."""

    def time(self) -> float:
        """`time.time()`."""
        return time.time()

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """`asyncio.sleep(seconds)`."""
        await asyncio.sleep(seconds)


SYSTEM_CLOCK: Final = SystemClock()


async def within(clock: Clock, awaitable: Awaitable[_T], seconds: float) -> bool:
    """Wait for `awaitable` (a future or task, left running) for up to `seconds` on `clock`.

    True if it finished in time. Unlike `asyncio.wait(timeout=...)` the deadline is the clock's, so a
    test decides when it passes.
    """
    future = asyncio.ensure_future(awaitable)
    if future.done():
        return True
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({future, timer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    return future.done()
