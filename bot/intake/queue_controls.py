"""What admins and members do to the queue as a whole: pause, resume, clear, stats, the line, history,
and the defaults admins set. `JobActions`' sibling: the cogs reach the queue only through these two.
"""

from __future__ import annotations

from bot.intake.channel_defaults import SERVER_WIDE, ChannelDefaultsStore
from bot.intake.options import ChannelDefaults, VideoSize, check_defaults, size_named
from bot.intake.rule_limits import narrowed
from bot.intake.served_models import ServedModels
from bot.moderation.precedence import EffectiveRules
from generation.queue.interface import JobInfo, JobQueue, Person, QueueStats

HISTORY_SHOWN = 10


class QueueControls:
    """The queue-wide verbs of `/videoadmin`, `/queue` and `/history`; permission checks stay in the cogs."""

    def __init__(self, queue: JobQueue, channel_defaults: ChannelDefaultsStore, models: ServedModels) -> None:
        self._queue = queue
        self._channel_defaults = channel_defaults
        self._models = models

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

    async def model_choices(self, typed: str) -> list[tuple[str, str]]:
        """The served models matching `typed`, as (label, name), for a `model:` option's menu."""
        return await self._models.choices(typed)

    async def live_models(self) -> frozenset[str]:
        """The names of the models some live worker serves now."""
        return frozenset(model.name for model in await self._models.current() if model.workers)

    async def line(self) -> list[JobInfo]:
        """Running and waiting jobs, in the order they will run."""
        return await self._queue.active()

    async def history(self, user_id: int) -> list[JobInfo]:
        """The member's most recently finished jobs, newest first."""
        return await self._queue.history(owner_id=str(user_id), limit=HISTORY_SHOWN)

    async def size_named(self, name: str, model: str | None) -> VideoSize:
        """The size called `name` of `model` (None: the default model); `InvalidOptionError` lists the others."""
        served = await self._models.choose(model)
        return size_named(name, self._models.limits_for(served).sizes)

    async def save_defaults(
        self, guild_id: int, channel_id: int | None, values: ChannelDefaults, *, reset: bool, here: EffectiveRules
    ) -> None:
        """Store (or with `reset`, remove) defaults for a channel, or the whole server when `channel_id` is None.

        The values are checked against the limits of the model they pick (a served one: `InvalidOptionError`
        lists those), within the server's rules `here`, as each `/video` will check them, so a default can
        never make every request in a channel fail; `InvalidOptionError` says which one.
        """
        if not reset:
            served = await self._models.choose(values.model)
            check_defaults(values, narrowed(self._models.limits_for(served), here))
        await self._channel_defaults.set(
            guild_id, SERVER_WIDE if channel_id is None else channel_id, ChannelDefaults() if reset else values
        )
