"""What admins and members do to the queue as a whole: pause, resume, clear, stats, the line, history,
and the defaults admins set. `JobActions`' sibling: the cogs reach the queue only through these two.
"""

from __future__ import annotations

from bot.intake.channel_defaults import SERVER_WIDE, ChannelDefaultsStore
from bot.intake.options import ChannelDefaults, RequestLimits, VideoSize, check_defaults, size_named
from generation.queue.interface import JobInfo, JobQueue, Person, QueueStats

HISTORY_SHOWN = 10


class QueueControls:
    """The queue-wide verbs of `/videoadmin`, `/queue` and `/history`; permission checks stay in the cogs."""

    def __init__(self, queue: JobQueue, channel_defaults: ChannelDefaultsStore, limits: RequestLimits) -> None:
        self._queue = queue
        self._channel_defaults = channel_defaults
        self._limits = limits

    async def pause(self) -> None:
        """Stop starting new jobs; the running ones finish."""
        await self._queue.pause()

    async def resume(self) -> None:
        """Start jobs again."""
        await self._queue.resume()

    async def clear(self, admin_id: int) -> list[JobInfo]:
        """Cancel every waiting job on behalf of the admin `admin_id`; returns the cancelled ones."""
        return await self._queue.clear(by=Person(str(admin_id)))

    async def stats(self) -> QueueStats:
        """The queue's counters and its workers."""
        return await self._queue.stats()

    async def line(self) -> list[JobInfo]:
        """Running and waiting jobs, in the order they will run."""
        return await self._queue.active()

    async def history(self, user_id: int) -> list[JobInfo]:
        """The member's most recently finished jobs, newest first."""
        return await self._queue.history(owner_id=str(user_id), limit=HISTORY_SHOWN)

    def size_named(self, name: str) -> VideoSize:
        """This deployment's size called `name`; `InvalidOptionError` lists the others."""
        return size_named(name, self._limits.sizes)

    async def save_defaults(
        self, guild_id: int, channel_id: int | None, values: ChannelDefaults, *, reset: bool
    ) -> None:
        """Store (or with `reset`, remove) defaults for a channel, or the whole server when `channel_id` is None.

        The values are checked against this deployment's limits as each `/video` will check them, so a
        default can never make every request in a channel fail; `InvalidOptionError` says which one.
        """
        if not reset:
            check_defaults(values, self._limits)
        await self._channel_defaults.set(
            guild_id, SERVER_WIDE if channel_id is None else channel_id, ChannelDefaults() if reset else values
        )
