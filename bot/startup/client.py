"""The bot: a discord.py `commands.Bot` that wires the Discord side together, and little else.

It is the composition root: it builds the collaborators (the gatekeeper, the channel defaults, the
submitter, the per-job followers, the job actions, the metrics) and hands each the few others it uses;
`setup_hook` loads the commands, starts the queue, follows the jobs it hands back and syncs commands.
`build_bot` picks the plain bot or, with SHARD_COUNT, the sharded one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.delivery.live_jobs import LiveJobs
from bot.discord_io.command_cache import outdated_command
from bot.discord_io.error_handler import report_app_command_error
from bot.discord_io.views import JobButton, extend_submission, remix_submission
from bot.i18n.commands import CatalogueTranslator
from bot.intake.actions import JobActions
from bot.intake.channel_defaults import ChannelDefaultsStore
from bot.intake.options import RequestLimits, VideoSize
from bot.intake.queue_controls import QueueControls
from bot.intake.served_models import ServedModels
from bot.intake.submission import Submitter
from bot.moderation.gatekeeper import Gatekeeper
from bot.moderation.rules_store import RulesStore, SqliteRulesStore
from bot.observability import HealthServer, Metrics, start_health_server
from bot.settings import Settings
from bot.startup.discord_login import explain_sync_failure
from bot.startup.problems import StartupCheckFailed
from generation.clock import SYSTEM_CLOCK, Clock
from generation.conditioning import ImageLimits
from generation.queue.interface import JobQueue

log = logging.getLogger(__name__)

DISCORD_CONNECTIONS: Final = 256
"""Most HTTP connections open to Discord at once. discord.py's own connector has no limit: a bot that
falls behind in a burst opens one connection (a TCP and a TLS handshake, more CPU when it has none to
spare) per call piled up. A burst needs about calls per second × round trip connections (1,000/s at
150 ms: 150); below that the limit itself delays answers (100 gave p99 0.71 s where 256 and no limit
gave 0.19 s and 0.16 s, `bench.ack_connector --calls 1000 --rtt-ms 150`). Uploads hold a connection
each for the length of a few MB, one per finished video, so they never take a visible share of it."""
KEEPALIVE_S: Final = 30.0
"""How long an idle connection to Discord is kept for the next call (aiohttp's default is 15 s)."""


def discord_connector() -> aiohttp.TCPConnector:
    """The bounded, kept-alive connector every Discord REST call and webhook of the bot goes through."""
    return aiohttp.TCPConnector(limit=DISCORD_CONNECTIONS, keepalive_timeout=KEEPALIVE_S)


class VideoTree(app_commands.CommandTree[Any]):
    """The command tree, with every command's error answered in one place (`bot.discord_io.error_handler`)."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Refuse a command sent in an older shape than the one registered (see `bot.discord_io.command_cache`)."""
        outdated = outdated_command(self, interaction)
        if outdated is not None:
            raise app_commands.CommandSignatureMismatch(outdated)
        return True

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /) -> None:
        """Answer the user and log what was not expected."""
        await report_app_command_error(interaction, error)


class VideoBot(commands.Bot):
    """Slash commands in front of a `JobQueue`; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        queue: JobQueue,
        *,
        clock: Clock = SYSTEM_CLOCK,
        rules_store: RulesStore | None = None,
        **options: Any,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=VideoTree,
            **options,
        )
        self.settings = settings
        self.queue = queue
        self.clock = clock
        self.request_limits = RequestLimits(
            max_steps=settings.max_steps,
            max_frames=settings.max_frames,
            max_guidance=settings.max_guidance,
            max_fps=settings.max_fps,
            sizes=tuple(VideoSize(name, width, height) for name, width, height in settings.parsed_sizes()),
            profile=settings.profile,
        )
        self.metrics = Metrics()
        self.rules_store = rules_store or server_rules_store(settings)
        self.gatekeeper = Gatekeeper(settings, clock, self.rules_store)
        self.channel_defaults = ChannelDefaultsStore(settings.database_path)
        self.models = ServedModels(queue, self.request_limits, clock, default_model=settings.default_model)
        self.following = LiveJobs(
            self,
            queue,
            clock,
            edit_interval_s=settings.status_edit_interval_s,
            position_interval_s=settings.position_edit_interval_s,
            edits_per_second=settings.status_edits_per_second,
            on_discord_error=self.metrics.record_http_exception,
            served=self.models.current,
        )
        self.submitter = Submitter(queue, self.following, clock)
        self.controls = QueueControls(queue, self.channel_defaults, self.models)
        self.actions = JobActions(
            queue,
            self.submitter,
            self.gatekeeper,
            self.channel_defaults,
            self.models,
            clock,
            default_steps=settings.default_steps,
            image_limits=ImageLimits(settings.image_max_bytes, settings.image_max_pixels),
            output_dir=settings.output_dir,
        )
        self._metrics_task: asyncio.Task[None] | None = None
        self._health_server: HealthServer | None = None

    async def login(self, token: str) -> None:
        """Log in through `discord_connector` (made here, on the running loop) unless one was handed in."""
        if self.http.connector is discord.utils.MISSING:
            self.http.connector = discord_connector()
        await super().login(token)

    async def setup_hook(self) -> None:
        """Load commands, start the queue, follow the jobs it hands back and sync commands."""
        from bot.cogs.admin import AdminCog
        from bot.cogs.queue_commands import QueueCog
        from bot.cogs.quota import QuotaCog
        from bot.cogs.server_rules import RulesGroup, audit_command
        from bot.cogs.video import VideoCog

        self.add_dynamic_items(JobButton)
        # Before any command is added: every command (and the sync) speaks the shipped languages.
        await self.tree.set_translator(CatalogueTranslator())
        await self.add_cog(VideoCog(self.tree, self.actions, self.models, self.settings.image_max_bytes))
        await self.add_cog(QueueCog(self.actions, self.controls, self.clock))
        rules: list[app_commands.Command[Any, Any, None] | app_commands.Group] = [
            RulesGroup(self.gatekeeper, self.controls, self.clock),
            audit_command(self.gatekeeper, self.clock),
        ]
        await self.add_cog(QuotaCog(self.actions, self.clock))
        await self.add_cog(AdminCog(self.controls, self.gatekeeper, self.clock, rules))
        # First: a guild id Discord refuses ends start-up before the queue recovers jobs or the model loads.
        await self._sync_commands()
        await self.channel_defaults.open()
        await self.rules_store.open()
        metric_events = self.queue.subscribe()
        for info in await self.queue.start():
            self.following.follow_recovered(info)
        self.models.forget()  # `/video` was built from a look before the queue (and its workers) started
        self._metrics_task = asyncio.create_task(self.metrics.consume(metric_events), name="metrics")
        if self.settings.health_port is not None:
            self._health_server = await start_health_server(
                self.settings.health_host, self.settings.health_port, self, self.metrics, stats=self.queue.stats
            )
            log.info("serving /healthz and /metrics on port %s", self._health_server.port)

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
        """Route a remix or extend form's answer (forms are not kept in memory, so this works across restarts)."""
        if (submission := remix_submission(interaction)) is not None:
            await self.actions.on_remix_submit(interaction, submission)
        elif (submission := extend_submission(interaction)) is not None:
            await self.actions.on_extend_submit(
                interaction, submission.prompt, submission.negative_prompt, submission.job_id
            )

    def gateway_connected(self) -> bool:
        """Health probe: logged in, ready and with an open gateway connection."""
        return self.is_ready() and not self.is_closed() and self.ws is not None and self.ws.open

    def worker_alive(self) -> bool:
        """Health probe: the queue's GPU worker is running."""
        return self.queue.health().worker_alive

    def model_loaded(self) -> bool:
        """Health probe: the model is in memory (or still loading at start-up, which is not a failure)."""
        return self.queue.health().model_ready

    async def close(self) -> None:
        """Stop taking jobs, let the running job finish and reach its user, persist the rest, disconnect."""
        if self._health_server is not None:
            await self._health_server.stop()
        await self.queue.close()
        # Closing the queue ends every job's event stream: trackers of finished jobs deliver, the others
        # return. Deliveries get the same bounded grace as the running job before the connection goes.
        await self.following.close(max(self.settings.shutdown_grace_s, 1.0))
        if self._metrics_task is not None:
            self._metrics_task.cancel()
            await asyncio.gather(self._metrics_task, return_exceptions=True)
        await self.channel_defaults.close()
        await self.rules_store.close()
        await super().close()


class ShardedVideoBot(VideoBot, commands.AutoShardedBot):
    """The same bot on the shards SHARD_IDS names (all of SHARD_COUNT when empty): one gateway connection
    per shard, each carrying only its guilds' events, so several processes can split the guilds."""

    def gateway_connected(self) -> bool:
        """Health probe: logged in, ready and with every shard's connection open."""
        shards = self.shards.values()
        return self.is_ready() and not self.is_closed() and bool(shards) and not any(s.is_closed() for s in shards)


def server_rules_store(settings: Settings) -> RulesStore:
    """Where server rules live: the bot's SQLite file, or with QUEUE_URL the queue's Redis (every bot
    process then sees the same rules)."""
    if settings.queue_url is None:
        return SqliteRulesStore(settings.database_path)
    from bot.moderation.rules_redis import RedisRulesStore
    from generation.queue.redis.verbs import DEFAULT_PREFIX, connect

    return RedisRulesStore(connect(settings.queue_url.get_secret_value()), DEFAULT_PREFIX)


def build_bot(settings: Settings, queue: JobQueue, **options: Any) -> VideoBot:
    """The bot `settings` ask for: unsharded unless SHARD_COUNT is set."""
    if settings.shard_count is None:
        return VideoBot(settings, queue, **options)
    shard_ids = settings.shard_ids or None  # None: every shard of SHARD_COUNT in this process
    log.info("running shards %s of %d", shard_ids or "all", settings.shard_count)
    return ShardedVideoBot(settings, queue, shard_count=settings.shard_count, shard_ids=shard_ids, **options)
