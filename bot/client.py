"""The bot: a discord.py `commands.Bot` that owns the queue's Discord side."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import discord
from discord.ext import commands

from bot.actions import JobActions
from bot.channel_defaults import ChannelDefaultsStore
from bot.discord_startup import explain_sync_failure
from bot.error_handler import on_app_command_error
from bot.gatekeeper import Gatekeeper
from bot.job_context import JobContext
from bot.observability import HealthServer, Metrics, start_health_server
from bot.options import RequestLimits, VideoSize
from bot.settings import Settings
from bot.startup_problems import StartupCheckFailed
from bot.status_message import EditLimiter, StatusMessage
from bot.submission import Submitter
from bot.tracker import JobTracker
from bot.views import JobButton, remix_submission
from generation.clock import SYSTEM_CLOCK, Clock, within
from generation.queue.interface import JobEvent, JobInfo, JobQueue
from generation.request import VideoRequest

log = logging.getLogger(__name__)


class VideoBot(commands.Bot):
    """Slash commands in front of a `JobQueue`; one `JobTracker` task per live job."""

    def __init__(self, settings: Settings, queue: JobQueue, *, clock: Clock = SYSTEM_CLOCK, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, help_command=None, **options)
        self.settings = settings
        self.queue = queue
        self.clock = clock
        self.request_limits = RequestLimits(
            max_steps=settings.max_steps,
            max_frames=settings.max_frames,
            max_guidance=settings.max_guidance,
            max_fps=settings.max_fps,
            sizes=tuple(VideoSize(name, width, height) for name, width, height in settings.parsed_sizes()),
        )
        self.gatekeeper = Gatekeeper(settings, clock)
        self.channel_defaults = ChannelDefaultsStore(settings.database_path)
        self.limiter = EditLimiter(per_second=settings.status_edits_per_second, burst=10, clock=clock)
        self.submitter = Submitter(self)
        self.actions = JobActions(self)
        self._tasks: set[asyncio.Task[None]] = set()
        # Events of recovered jobs, routed from the queue's global stream; None once that stream ends.
        self._routes: dict[str, asyncio.Queue[JobEvent | None]] = {}
        self._following: dict[str, asyncio.Task[None]] = {}
        self.metrics = Metrics()
        self._health_server: HealthServer | None = None

    async def setup_hook(self) -> None:
        """Load commands, recover the queue, start following jobs and sync commands."""
        from bot.cogs.admin import AdminCog
        from bot.cogs.queue_commands import QueueCog
        from bot.cogs.video import VideoCog

        self.tree.on_error = on_app_command_error  # type: ignore[method-assign]
        self.add_dynamic_items(JobButton)
        await self.add_cog(VideoCog(self))
        await self.add_cog(QueueCog(self))
        await self.add_cog(AdminCog(self))
        # First: a guild id Discord refuses ends start-up before the queue recovers jobs or the model loads.
        await self._sync_commands()
        await self.channel_defaults.open()
        events = self.queue.subscribe()
        metric_events = self.queue.subscribe()
        recovered = await self.queue.start()
        self._spawn(self._route_events(events), "event-router")
        self._spawn(self.metrics.consume(metric_events), "metrics")
        if self.settings.health_port is not None:
            self._health_server = await start_health_server(
                self.settings.health_host, self.settings.health_port, self, self.metrics, stats=self.queue.stats
            )
            log.info("serving /healthz and /metrics on port %s", self._health_server.port)
        for info in recovered:
            self._follow_recovered(info)

    async def _sync_commands(self) -> None:
        """Register the commands; `StartupCheckFailed` names a guild id that Discord refuses."""
        if self.settings.discord_guild_ids:
            for guild_id in self.settings.discord_guild_ids:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                try:
                    synced = await self.tree.sync(guild=guild)
                except (discord.NotFound, discord.Forbidden) as error:
                    problem = explain_sync_failure(error, guild_id, self.application_id or 0)
                    raise StartupCheckFailed([problem]) from None
                log.info("synced %d commands to guild_id=%s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands (may take up to an hour to appear)", len(synced))

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Route a remix form's answer (forms are not kept in memory, so this works across restarts)."""
        submission = remix_submission(interaction)
        if submission is not None:
            await self.actions.on_remix_submit(interaction, submission.prompt, submission.negative_prompt)

    def gateway_connected(self) -> bool:
        """Health probe: logged in, ready and with an open gateway connection."""
        return self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open

    def worker_alive(self) -> bool:
        """Health probe: the queue's GPU worker is running."""
        return self.queue.health().worker_alive

    def model_loaded(self) -> bool:
        """Health probe: the model is in memory (or still loading at start-up, which is not a failure)."""
        return self.queue.health().model_ready

    def record_discord_error(self, error: discord.HTTPException) -> None:
        """Count a failed Discord call for /metrics."""
        self.metrics.record_http_exception(error)

    def new_tracker(self, job_id: str, request: VideoRequest, context: JobContext) -> JobTracker:
        """A tracker for one job, wired to this bot's limiter, throttle and error metrics."""
        return JobTracker(
            self,
            job_id,
            request,
            StatusMessage(self, context, self.clock),
            clock=self.clock,
            limiter=self.limiter,
            edit_interval_s=self.settings.status_edit_interval_s,
            on_discord_error=self.record_discord_error,
            save_context=lambda context: self.queue.update_context(job_id, context.dumps()),
            acknowledge=lambda: self.queue.acknowledge(job_id),
        )

    def start_tracking(self, tracker: JobTracker, events: AsyncIterator[JobEvent]) -> None:
        """Follow a job until its outcome is shown to the user."""
        self._track(tracker.job_id, tracker.follow(events))

    def stop_tracking(self, job_id: str) -> None:
        """Abandon a job's tracker (its status message was never created)."""
        task = self._following.pop(job_id, None)
        if task is not None:
            task.cancel()

    async def wait_until_settled(self) -> None:
        """Until every job followed now has been shown its outcome (or stopped waiting for one)."""
        while self._following:
            await asyncio.wait(list(self._following.values()))

    def _track(self, job_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Run one job's Discord side as a task that shutdown waits for (bounded) before disconnecting."""

        async def tracked() -> None:
            try:
                await work
            finally:
                self._following.pop(job_id, None)
                self._routes.pop(job_id, None)

        self._following[job_id] = self._spawn(tracked(), f"job-{job_id}")

    def _follow_recovered(self, info: JobInfo) -> None:
        """Jobs found after a restart: tell their users in the channel, and follow the re-queued ones."""
        try:
            context = JobContext.loads(info.spec.context)
        except (ValueError, TypeError):
            log.error("job_id=%s has no usable Discord context; its result cannot be delivered", info.job_id)
            self._spawn(self.queue.acknowledge(info.job_id), f"acknowledge-{info.job_id}")
            return
        tracker = self.new_tracker(info.job_id, info.spec.request, context)
        if info.status.terminal:
            # Ended before the restart but never shown (the upload was cut off), or failed by the
            # restart itself (it crashed the worker too often): show the outcome now.
            async def announce_outcome() -> None:
                await tracker.announce_outcome_after_restart(await self.queue.outcome(info.job_id))

            self._track(info.job_id, announce_outcome())
            return
        route: asyncio.Queue[JobEvent | None] = asyncio.Queue()
        self._routes[info.job_id] = route

        async def events() -> AsyncIterator[JobEvent]:
            while (event := await route.get()) is not None:
                yield event

        async def announce_then_follow() -> None:
            await tracker.announce_recovered(info)
            await tracker.follow(events())

        self._track(info.job_id, announce_then_follow())

    async def _route_events(self, events: AsyncIterator[JobEvent]) -> None:
        try:
            async for event in events:
                route = self._routes.get(event.job_id)
                if route is not None:
                    route.put_nowait(event)
        finally:
            # The queue closed: no more events will come, so recovered jobs' trackers stop waiting
            # (shutdown would otherwise sit out its whole grace period for them).
            for route in self._routes.values():
                route.put_nowait(None)

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s crashed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        """Stop taking jobs, let the running job finish and reach its user, persist the rest, disconnect."""
        if self._health_server is not None:
            await self._health_server.stop()
        await self.queue.close()
        # Closing the queue ends every job's event stream: trackers of finished jobs deliver, the others
        # return. Deliveries get the same bounded grace as the running job before the connection goes.
        if self._following:
            deliveries = asyncio.wait(list(self._following.values()))
            await within(self.clock, deliveries, max(self.settings.shutdown_grace_s, 1.0))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().close()
