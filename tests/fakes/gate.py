"""`Gate`: a turnstile between a blocking thread (a fake generator) and an async test.

The thread calls `pass_through()` at each point the test wants to control (each denoising step, the
model load). With the gate held, the thread waits there until the test lets it on (`release(n)` or
`open()`), so "the job is running", "it is on step 3" or "it is still loading" are states the test
creates, not durations it hopes are long enough. The test awaits `arrived(n)` to know the thread has
reached its n-th point: everything the thread did before it (progress reported for step n-1) has
reached the event loop by then, because both travel through `call_soon_threadsafe` in order.
"""

# The waits take `timeout=` like asyncio.wait_for, so tests read plainly.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import threading

from generation.protocol import CancelToken
from tests.patience import PATIENCE_S

# How often a held thread looks at its cancel token. Only how quickly a cancelled wait notices; no
# outcome depends on it.
_CANCEL_POLL_S = 0.005


class Gate:
    """Counts arrivals of a thread at a control point and lets them through when the test says."""

    def __init__(self, *, held: bool = False) -> None:
        self._lock = threading.Condition()
        self._open = not held
        self._permits = 0
        self._arrivals = 0
        self._passed = 0
        self._watchers: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    # -- the thread's side ----------------------------------------------------------------------

    def pass_through(self, cancel: CancelToken | None = None) -> bool:
        """Arrive, and wait until let through; False if `cancel` fired while waiting (not let through)."""
        with self._lock:
            self._arrivals += 1
            self._notify()
            while not (self._open or self._permits):
                if cancel is not None and cancel.cancelled:
                    return False
                self._lock.wait(_CANCEL_POLL_S if cancel is not None else None)
            if not self._open:
                self._permits -= 1
            self._passed += 1
            return True

    # -- the test's side ------------------------------------------------------------------------

    @property
    def arrivals(self) -> int:
        """How many times a thread has reached the gate."""
        return self._arrivals

    @property
    def passed(self) -> int:
        """How many of those arrivals were let through."""
        return self._passed

    def release(self, count: int = 1) -> None:
        """Let `count` more arrivals through (ones waiting now or still to come)."""
        with self._lock:
            self._permits += count
            self._lock.notify_all()

    def open(self) -> None:
        """Let everything through from now on."""
        with self._lock:
            self._open = True
            self._lock.notify_all()

    def hold(self) -> None:
        """Stop letting arrivals through without a `release` again."""
        with self._lock:
            self._open = False
            self._permits = 0

    async def arrived(self, count: int = 1, timeout: float = PATIENCE_S) -> None:
        """Until the thread has reached the gate `count` times in all."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                with self._lock:
                    if self._arrivals >= count:
                        break
                    future = loop.create_future()
                    self._watchers.append((loop, future))
                await future
        # What the thread handed the loop before arriving (call_soon_threadsafe appends to the ready
        # queue at once) runs before this task resumes from one more trip through that queue.
        await asyncio.sleep(0)

    def _notify(self) -> None:
        watchers, self._watchers = self._watchers, []
        for loop, future in watchers:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, future)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
