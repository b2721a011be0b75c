"""`HeldQueue`: the real queue behind a door the test can close, call by call.

The bot's promise that an interaction is answered in time whatever it waits for (a save still
committing, a lookup behind a burst) is a promise about slow calls. This makes a call slow on purpose
and for exactly as long as the test wants: `hold("submit")` makes the next `submit` calls wait at the
door, `await arrived("submit")` waits until one is waiting there, `release("submit")` lets them
through. Everything else, and everything once released, is the real `LocalJobQueue`.
"""

# The waits take `timeout=` like asyncio.wait_for, so tests read plainly.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from generation.queue.interface import JobHandle, JobInfo, JobQueue, JobSpec, QueueStats
from tests.patience import PATIENCE_S

_HELD = ("submit", "get", "cancel", "active", "stats", "history", "clear", "pause", "close")


class HeldQueue:
    """Passes every call to `inner`; the methods in `_HELD` can be held at a door (see the module docstring)."""

    def __init__(self, inner: JobQueue) -> None:
        self.inner = inner
        self._doors: dict[str, asyncio.Event] = {}
        self._arrivals: Counter[str] = Counter()
        self._changed = asyncio.Condition()

    def hold(self, method: str) -> None:
        """Make calls of `method` wait until `release`."""
        if method not in _HELD:
            raise ValueError(f"{method} cannot be held; choose from {_HELD}")
        self._doors[method] = asyncio.Event()

    def release(self, method: str) -> None:
        """Let the waiting and later calls of `method` through."""
        self._doors.pop(method).set()

    def arrivals(self, method: str) -> int:
        """How many calls of `method` have reached the door so far (held or not)."""
        return self._arrivals[method]

    async def arrived(self, method: str, count: int = 1, timeout: float = PATIENCE_S) -> None:
        """Until `count` calls of `method` have reached the door (held or not)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self._arrivals[method] >= count)

    async def _door(self, method: str) -> None:
        async with self._changed:
            self._arrivals[method] += 1
            self._changed.notify_all()
        door = self._doors.get(method)
        if door is not None:
            await door.wait()

    async def submit(self, spec: JobSpec) -> JobHandle:
        """`JobQueue.submit`, behind its door."""
        await self._door("submit")
        return await self.inner.submit(spec)

    async def get(self, job_id: str) -> JobInfo:
        """`JobQueue.get`, behind its door."""
        await self._door("get")
        return await self.inner.get(job_id)

    async def cancel(self, job_id: str, by: str) -> JobInfo:
        """`JobQueue.cancel`, behind its door."""
        await self._door("cancel")
        return await self.inner.cancel(job_id, by)

    async def active(self) -> list[JobInfo]:
        """`JobQueue.active`, behind its door."""
        await self._door("active")
        return await self.inner.active()

    async def stats(self) -> QueueStats:
        """`JobQueue.stats`, behind its door."""
        await self._door("stats")
        return await self.inner.stats()

    async def history(self, owner_id: str | None = None, limit: int = 10) -> list[JobInfo]:
        """`JobQueue.history`, behind its door."""
        await self._door("history")
        return await self.inner.history(owner_id, limit)

    async def clear(self, by: str) -> list[JobInfo]:
        """`JobQueue.clear`, behind its door."""
        await self._door("clear")
        return await self.inner.clear(by)

    async def pause(self) -> None:
        """`JobQueue.pause`, behind its door."""
        await self._door("pause")
        await self.inner.pause()

    async def close(self) -> None:
        """`JobQueue.close`, behind its door (`arrived("close")`: the bot has begun to shut down)."""
        await self._door("close")
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
