"""Getting job events from the worker to whoever listens, without ever making the worker wait.

Two kinds of stream, both fed synchronously on the event loop by the queue:

* `EventHub.subscribe()`: every event of every job from now on, in order. Each subscriber has its own
  bounded buffer. A subscriber that falls `buffer_size` events behind is disconnected rather than
  slowing the worker or silently missing events: it still reads what was buffered, then its stream
  raises `SubscriberLagged`, and it can subscribe again and resynchronise from `JobQueue.active()`.
  A subscriber that stops iterating and drops its stream is forgotten (the hub holds it weakly).
* `JobEventLog.stream()`: one job's events from submission on, replayed for every reader, ending after
  the job's terminal event. Its size is bounded by the job's life (one `JobQueued` per place it moves,
  one `JobProgress` per step), and it is dropped with the job's handle.

Closing either ends its streams after what they already hold.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import AsyncIterator
from typing import Final

from generation.errors import SubscriberLagged
from generation.queue.interface import JobEvent

log = logging.getLogger(__name__)

DEFAULT_EVENT_BUFFER: Final = 10_000
"""Events a `subscribe()` stream may fall behind before it is disconnected."""


class _Signal:
    """Wakes every coroutine waiting for the next change; cheap when nobody waits."""

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    async def wait(self) -> None:
        # A future per waiter, not one shared: cancelling a waiter cancels its own future only, and
        # costs nothing like the extra future and callbacks of shielding a shared one.
        future = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        finally:
            # A cancelled waiter leaves; `fire` may already have taken it with the others.
            if future.cancelled() and future in self._waiters:
                self._waiters.remove(future)

    def fire(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)


class _Subscription:
    """One subscriber's bounded buffer, read as an async iterator."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buffer: deque[JobEvent] = deque()
        self._signal = _Signal()
        self._closed = False
        self._lagged = False

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> JobEvent:
        while not self._buffer:
            if self._lagged:
                raise SubscriberLagged(
                    f"this event stream fell more than {self._limit} events behind and was disconnected"
                )
            if self._closed:
                raise StopAsyncIteration
            await self._signal.wait()
        return self._buffer.popleft()

    def push(self, event: JobEvent) -> bool:
        """Buffer `event`; False (and disconnected) when the buffer is already full."""
        if len(self._buffer) >= self._limit:
            self._lagged = True
            self._signal.fire()
            return False
        self._buffer.append(event)
        self._signal.fire()
        return True

    def close(self) -> None:
        self._closed = True
        self._signal.fire()


class EventHub:
    """Fan-out of every event to every subscriber; see the module docstring for the overflow policy."""

    def __init__(self, buffer_size: int) -> None:
        self._buffer_size = buffer_size
        # Weak, so a subscriber that drops its stream is forgotten without telling anyone.
        self._subscribers: dict[int, weakref.ref[_Subscription]] = {}
        self._closed = False

    def subscribe(self) -> AsyncIterator[JobEvent]:
        """Every event published from this call on, until `close` (or until this subscriber lags)."""
        subscription = _Subscription(self._buffer_size)
        if self._closed:
            subscription.close()
        else:
            key = id(subscription)
            self._subscribers[key] = weakref.ref(subscription, lambda _: self._subscribers.pop(key, None))
        return subscription

    def publish(self, event: JobEvent) -> None:
        """Hand `event` to every subscriber; never blocks."""
        for key, ref in list(self._subscribers.items()):
            subscription = ref()
            if subscription is not None and not subscription.push(event):
                del self._subscribers[key]
                log.warning("event subscriber disconnected: more than %d events behind", self._buffer_size)

    def close(self) -> None:
        """End every stream after what it holds; later subscribers get an empty stream."""
        self._closed = True
        for ref in self._subscribers.values():
            subscription = ref()
            if subscription is not None:
                subscription.close()
        self._subscribers.clear()


class JobEventLog:
    """The events of one job, kept for replay until its handle is dropped."""

    def __init__(self) -> None:
        self._events: list[JobEvent] = []
        self._signal = _Signal()
        self._closed = False

    def append(self, event: JobEvent) -> None:
        """Record `event` (ignored once the log is closed)."""
        if not self._closed:
            self._events.append(event)
            self._signal.fire()

    def close(self) -> None:
        """No more events: streams end after the last one."""
        self._closed = True
        self._signal.fire()

    async def stream(self) -> AsyncIterator[JobEvent]:
        """Every event of the job from the first, then new ones as they come, until `close`."""
        index = 0
        while True:
            while index < len(self._events):
                yield self._events[index]
                index += 1
            if self._closed:
                return
            await self._signal.wait()
