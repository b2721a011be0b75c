"""`/videoadmin`: pause, resume, clear, stats and defaults, for Manage Server or the admin role; the rules
commands (`bot.cogs.server_rules`) join the same group."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.discord_io.acknowledgement import Acknowledgement, Deferral, acknowledged
from bot.errors import RefusedError
from bot.i18n import ENGLISH, Speaker, Text, marked, speaker_for
from bot.intake.options import ChannelDefaults
from bot.intake.queue_controls import QueueControls
from bot.moderation.gatekeeper import Gatekeeper
from generation.clock import Clock
from generation.queue.interface import QueueStats, WorkerStatus


class NotAdminError(RefusedError, app_commands.CheckFailure):
    """The caller has neither Manage Server nor the configured admin role (raised by the cog's check)."""


# Hidden from members without Manage Server and absent from DMs, so most people never see admin
# commands; server admins can still open them to the admin role (Server Settings → Integrations), and
# `interaction_check` decides at run time whatever the server's overrides say.
@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class AdminCog(commands.GroupCog, group_name="videoadmin", group_description=locale_str("Video bot administration")):
    """Queue control and per-channel defaults."""

    def __init__(
        self,
        controls: QueueControls,
        gatekeeper: Gatekeeper,
        clock: Clock,
        more: Sequence[app_commands.Command[Any, Any, None] | app_commands.Group] = (),
    ) -> None:
        self._controls = controls
        self._gatekeeper = gatekeeper
        self._clock = clock
        super().__init__()
        # Commands kept in modules of their own (`bot.cogs.server_rules`), each checking admins itself.
        for command in more:
            self.__cog_app_commands_group__.add_command(command)  # type: ignore[union-attr]

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Only admins pass; everyone else gets a specific ephemeral refusal."""
        if not self._gatekeeper.is_admin(interaction):
            raise NotAdminError(Text("Only members with Manage Server or the bot admin role can use /videoadmin."))
        return True

    @app_commands.command(name="pause", description=locale_str("Stop starting new videos (the running one finishes)"))
    async def pause(self, interaction: discord.Interaction[Any]) -> None:
        """Pause the queue."""
        async with self._acknowledged(interaction) as ack:
            await self._controls.pause()
            say = speaker_for(interaction.locale).say
            await ack.respond(content=say("Queue paused. `/videoadmin resume` starts it again."), ephemeral=True)

    @app_commands.command(name="resume", description=locale_str("Start videos again"))
    async def resume(self, interaction: discord.Interaction[Any]) -> None:
        """Resume the queue."""
        async with self._acknowledged(interaction) as ack:
            await self._controls.resume()
            await ack.respond(content=speaker_for(interaction.locale).say("Queue resumed."), ephemeral=True)

    @app_commands.command(name="clear", description=locale_str("Cancel every waiting video (not the running one)"))
    async def clear(self, interaction: discord.Interaction[Any]) -> None:
        """Cancel all waiting jobs."""
        async with self._acknowledged(interaction) as ack:
            cleared = await self._controls.clear(interaction.user.id)
            said = speaker_for(interaction.locale).say("Cleared {count} waiting video(s).", count=len(cleared))
            await ack.respond(content=said, ephemeral=True)

    @app_commands.command(name="stats", description=locale_str("Jobs done, failures, time per video, GPU memory"))
    async def stats(self, interaction: discord.Interaction[Any]) -> None:
        """Show counters."""
        async with self._acknowledged(interaction) as ack:
            stats = await self._controls.stats()
            live = await self._controls.live_models() if stats.waiting_by_model else frozenset()
            await ack.respond(embed=stats_embed(stats, live, speaker_for(interaction.locale)), ephemeral=True)

    @app_commands.command(
        name="defaults", description=locale_str("Set default options for this channel or the whole server")
    )
    @app_commands.describe(
        scope=locale_str("This channel only, or every channel of the server"),
        steps=locale_str("Default denoising steps"),
        frames=locale_str("Default number of frames"),
        guidance=locale_str("Default guidance"),
        fps=locale_str("Default frames per second"),
        size=locale_str("Default size name"),
        negative_prompt=locale_str("Default negative prompt"),
        model=locale_str("Default model (one served now)"),
        reset=locale_str("Remove the defaults of this scope"),
    )
    @app_commands.choices(
        scope=[
            app_commands.Choice(name=locale_str("this channel"), value="channel"),
            app_commands.Choice(name=locale_str("server"), value="server"),
        ]
    )
    async def defaults(
        self,
        interaction: discord.Interaction[Any],
        scope: str,
        steps: int | None = None,
        frames: int | None = None,
        guidance: float | None = None,
        fps: int | None = None,
        size: str | None = None,
        negative_prompt: str | None = None,
        reset: bool = False,
        model: str | None = None,
    ) -> None:
        """Store defaults after checking them against this deployment's limits, as each `/video` will."""
        say = speaker_for(interaction.locale).say
        async with self._acknowledged(interaction) as ack:
            if interaction.guild_id is None or interaction.channel_id is None:
                await ack.refuse(say("Defaults apply to servers, not direct messages."))
                return
            values = ChannelDefaults.from_options(
                scope=scope,
                steps=steps,
                frames=frames,
                guidance=guidance,
                fps=fps,
                size=await self._controls.size_named(size, model) if size else None,
                negative_prompt=negative_prompt,
                model=model,
            )
            channel = interaction.channel_id if scope == "channel" else None
            here = await self._gatekeeper.rules_for(interaction.guild_id, channel)
            await self._controls.save_defaults(interaction.guild_id, channel, values, reset=reset, here=here)
            if scope == "channel":
                done = (
                    marked("Defaults for this channel removed.")
                    if reset
                    else marked("Defaults for this channel saved.")
                )
            else:
                done = (
                    marked("Defaults for this server removed.") if reset else marked("Defaults for this server saved.")
                )
            await ack.respond(content=say(done), ephemeral=True)

    @defaults.autocomplete("model")
    async def _model_menu(self, interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=label, value=name) for label, name in await self._controls.model_choices(current)
        ]

    def _acknowledged(self, interaction: discord.Interaction[Any]) -> AbstractAsyncContextManager[Acknowledgement]:
        return acknowledged(interaction, self._clock, Deferral.EPHEMERAL)


def stats_embed(
    stats: QueueStats, live_models: frozenset[str] = frozenset(), speaker: Speaker = ENGLISH
) -> discord.Embed:
    """`/videoadmin stats`: counters, waiting jobs per model (`live_models`: those a live worker serves), workers."""
    say = speaker.say
    embed = discord.Embed(title=say("Video bot stats"))
    embed.add_field(name=say("Done"), value=str(stats.succeeded))
    embed.add_field(name=say("Failed"), value=str(stats.failed))
    embed.add_field(name=say("Cancelled"), value=str(stats.cancelled))
    embed.add_field(name=say("Waiting"), value=str(stats.waiting))
    embed.add_field(name=say("Running"), value=str(stats.running))
    mean = "—" if stats.mean_job_s is None else say("{seconds} s", seconds=speaker.number(stats.mean_job_s, decimals=1))
    embed.add_field(name=say("Mean time per video"), value=mean)
    gib = None if stats.gpu_memory_bytes is None else speaker.number(stats.gpu_memory_bytes / 2**30, decimals=2)
    memory = say("no GPU") if gib is None else say("{gib} GiB", gib=gib)
    embed.add_field(name=say("GPU memory in use"), value=memory)
    embed.add_field(name=say("Paused"), value=say("yes") if stats.paused else say("no"))
    if stats.waiting_by_model:
        lines = [_waiting_line(name, count, name in live_models, speaker) for name, count in stats.waiting_by_model]
        embed.add_field(name=say("Waiting by model"), value="\n".join(lines)[:1024], inline=False)
    if stats.workers:
        shown = stats.workers[:_WORKERS_SHOWN]
        lines = [_worker_line(worker, speaker) for worker in shown]
        if len(stats.workers) > len(shown):
            lines.append(say("… and {count} more", count=len(stats.workers) - len(shown)))
        alive = sum(worker.alive for worker in stats.workers)
        embed.add_field(
            name=say("Workers ({alive} of {count} alive)", alive=alive, count=len(stats.workers)),
            value="\n".join(lines)[:1024],
            inline=False,
        )
    return embed


def _worker_line(worker: WorkerStatus, speaker: Speaker) -> str:
    """One worker as an admin reads it: name, where, GPU, what it runs, jobs done, last heartbeat."""
    say = speaker.say
    state = say("up") if worker.alive else say("**gone**")
    doing = ", ".join(worker.current_jobs) or say("idle")
    done = say("{count} done", count=worker.jobs_done)
    seen = say("seen {when}", when=f"<t:{int(worker.last_heartbeat)}:R>")
    return f"`{worker.name}` {state} · {worker.host} · {worker.gpu} · {doing} · {done} · {seen}"


def _waiting_line(model: str, count: int, served: bool, speaker: Speaker) -> str:
    return f"`{model}` {count}" + ("" if served else speaker.say(" · **no live worker serves it**"))


_WORKERS_SHOWN = 5  # an embed field holds 1024 characters
