"""The time the emulator paces the bot by: rate-limit windows and the gateway heartbeat.

This is not `DiscordEmulator.clock` (interaction deadlines, token life, timestamps), which a test moves
forward to age things at once. Pacing is what the client waits out in real time: discord.py sleeps a
429's `retry_after` with `asyncio.sleep` and must then be let through, so by default pacing is real
time. A test of a pacing rule passes a clock that only moves when told (`tests.fakes.clock.FakeClock`
fits) and decides itself when a window ends or a heartbeat is overdue.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Pacing(Protocol):
    """A monotonic time source that can be slept on."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this time source."""
        ...


class RealPacing:
    """Real time: `time.monotonic` and `asyncio.sleep` (the loop's own clock is monotonic too)."""

    def now(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(seconds)
