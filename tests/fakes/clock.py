"""`FakeClock`: time that moves only when a test moves it.

Everything in the bot and the queue that waits for time (status-edit throttling, cooldowns, the
acknowledgement budget, ETAs, token expiry, the job watchdog, the shutdown grace) takes a clock, so
a test decides exactly when a throttle opens or a token expires instead of sleeping and hoping the
machine kept up. The same object serves the Discord emulator (`now`, `utcnow`), so the bot and
"Discord" agree on what time it is.

`sleep` registers a sleeper that wakes when `advance` carries the clock past its deadline;
`wait_for_sleepers` lets a test wait until the code under test is provably parked on the clock (for
example, the status editor waiting out its interval) before it asserts that nothing else happened.
"""

# The waits take `timeout=` like asyncio.wait_for, so tests read plainly.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import math
import time
from collections.abc import Awaitable
from typing import TypeVar

from tests.patience import PATIENCE_S

_T = TypeVar("_T")

_MONOTONIC_START = 10_000.0  # far from 0, like a real monotonic clock, so "never happened" (0.0) is long ago


class FakeClock:
    """Wall and monotonic time that stand still until `advance`; asyncio sleepers wake as it passes them."""

    def __init__(self, start: float | None = None) -> None:
        self._wall_start = time.time() if start is None else start
        self._elapsed = 0.0
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._changed: list[asyncio.Future[None]] = []

    # -- the bot's and queue's interface ------------------------------------------------------

    def time(self) -> float:
        """Seconds since the epoch, as `time.time()` would say."""
        return self._wall_start + self._elapsed

    def monotonic(self) -> float:
        """Seconds on a monotonic scale, as `time.monotonic()` would say."""
        return _MONOTONIC_START + self._elapsed

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has been advanced by `seconds` (at once if not positive)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.monotonic() + seconds, next(self._order), future)
        heapq.heappush(self._sleepers, entry)
        self._fire(self._changed)
        try:
            await future
        finally:
            if future.cancelled():
                self._forget(entry)

    # -- the emulator's interface -------------------------------------------------------------

    def now(self) -> float:
        """The monotonic reading (the emulator's name for it)."""
        return self.monotonic()

    def utcnow(self) -> dt.datetime:
        """The wall time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.time(), dt.UTC)

    # -- the test's controls ------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has now passed, earliest first."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._elapsed += seconds
        now = self.monotonic()
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        self._fire(self._changed)

    def sleepers(self, due_within: float = math.inf) -> int:
        """How many coroutines are waiting on this clock now (only those due within `due_within` s)."""
        now = self.monotonic()
        return sum(1 for deadline, _, future in self._sleepers if not future.done() and deadline - now <= due_within)

    def next_deadline(self) -> float | None:
        """Seconds until the earliest sleeper wakes, or None when nobody sleeps."""
        pending = [deadline for deadline, _, future in self._sleepers if not future.done()]
        return min(pending) - self.monotonic() if pending else None

    async def wait_for_sleepers(
        self, count: int = 1, *, due_within: float = math.inf, timeout: float = PATIENCE_S
    ) -> None:
        """Until at least `count` coroutines are parked on the clock (waking within `due_within` s)."""
        async with asyncio.timeout(timeout):
            while self.sleepers(due_within) < count:
                changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._changed.append(changed)
                await changed

    async def advance_to_next_sleeper(self, timeout: float = PATIENCE_S) -> None:
        """Wait until something sleeps on the clock, then advance exactly to the earliest deadline."""
        await self.wait_for_sleepers(1, timeout=timeout)
        deadline = self.next_deadline()
        assert deadline is not None
        self.advance(max(0.0, deadline))

    async def advance_past(self, seconds: float, timeout: float = PATIENCE_S) -> None:
        """Wait until something sleeps on the clock due within `seconds`, then advance `seconds`.

        For a wait that starts a little later than the test acts (a grace period, a throttle): advancing
        before it has begun would leave it waiting for good.
        """
        await self.wait_for_sleepers(1, due_within=seconds, timeout=timeout)
        self.advance(seconds)

    async def run_until_done(self, awaitable: Awaitable[_T], *, step: float, timeout: float = PATIENCE_S) -> _T:
        """Await `awaitable`, moving time on by `step` whenever something sleeps on the clock due within it.

        For a wait whose deadline is known but whose start is not (a shutdown's grace period behind other
        work): time passes only while the awaited work is parked on the clock, however busy the machine.
        """
        task = asyncio.ensure_future(awaitable)
        async with asyncio.timeout(timeout):
            while not task.done():
                sleeping = asyncio.ensure_future(self.wait_for_sleepers(1, due_within=step, timeout=timeout))
                await asyncio.wait({task, sleeping}, return_when=asyncio.FIRST_COMPLETED)
                if sleeping.done() and not task.done():
                    self.advance(step)
                    await asyncio.sleep(0)
                sleeping.cancel()
        return await task

    def _forget(self, entry: tuple[float, int, asyncio.Future[None]]) -> None:
        if entry in self._sleepers:
            self._sleepers.remove(entry)
            heapq.heapify(self._sleepers)

    @staticmethod
    def _fire(waiters: list[asyncio.Future[None]]) -> None:
        fired = list(waiters)
        waiters.clear()
        for future in fired:
            if not future.done():
                future.set_result(None)
