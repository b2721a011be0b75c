"""`/queue`, `/cancel` and `/history`: where everyone stands, and your own jobs and daily quota (in the member's
language)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.cogs.quota import quota_text
from bot.discord_io import render
from bot.discord_io.acknowledgement import Deferral, acknowledged
from bot.discord_io.sanitize import display_prompt
from bot.i18n import ENGLISH, Speaker, marked, speaker_for
from bot.intake.actions import JobActions
from bot.intake.queue_controls import QueueControls
from generation.clock import Clock
from generation.queue.interface import JobInfo, JobStatus

SHOWN = 15
SHORT_PROMPT = 60


def queue_line(info: JobInfo, now: float, speaker: Speaker = ENGLISH) -> str:
    """One line of `/queue`: place, owner, short prompt, model and ETA (`now`: the wall clock, epoch seconds)."""
    place = speaker.say("▶️ now") if info.status is JobStatus.RUNNING else f"#{info.position}"
    ready = render.ready_at(now, info.eta_s)
    eta = speaker.say(" · ready {when}", when=render.relative_time(ready)) if ready is not None else ""
    prompt = display_prompt(info.spec.request.prompt, SHORT_PROMPT)
    model = info.spec.request.model
    shown = f" · `{model}`" if model else ""
    return f"{place} · <@{info.spec.owner_id}> · {prompt}{shown}{eta}"


#: How `/history` names each outcome (the status values, as English words for the catalogue).
_OUTCOMES = {
    JobStatus.QUEUED: marked("queued"),
    JobStatus.RUNNING: marked("running"),
    JobStatus.SUCCEEDED: marked("succeeded"),
    JobStatus.FAILED: marked("failed"),
    JobStatus.CANCELLED: marked("cancelled"),
}


def history_line(info: JobInfo, speaker: Speaker = ENGLISH) -> str:
    """One line of `/history`: when, the model, the outcome, the seed and a short prompt."""
    when = f"<t:{int(info.finished_at or info.submitted_at)}:R>"
    seed = speaker.say(" · seed {seed}", seed=info.seed) if info.seed is not None else ""
    outcome = speaker.say(_OUTCOMES[info.status])
    return f"{when} · {_model(info)}{outcome}{seed} · {display_prompt(info.spec.request.prompt, SHORT_PROMPT)}"


def _model(info: JobInfo) -> str:
    """The job's model and a separator; nothing for a job queued before models had names."""
    model = info.spec.request.model
    return f"`{model}` · " if model else ""


class QueueCog(commands.Cog):
    """Looking at the queue and managing your own jobs."""

    def __init__(self, actions: JobActions, controls: QueueControls, clock: Clock) -> None:
        self._actions = actions
        self._controls = controls
        self._clock = clock

    @app_commands.command(
        name="queue", description=locale_str("Show who is waiting for a video and when it will be ready")
    )
    async def queue(self, interaction: discord.Interaction[Any]) -> None:
        """List running and waiting jobs in the order they will run."""
        speaker = speaker_for(interaction.locale)
        say = speaker.say
        async with acknowledged(interaction, self._clock, Deferral.EPHEMERAL) as ack:
            active = await self._controls.line()
            if not active:
                text = say("The queue is empty: a new `/video` starts right away.")
            else:
                lines = [queue_line(info, self._clock.time(), speaker) for info in active[:SHOWN]]
                if len(active) > SHOWN:
                    lines.append(say("… and {count} more", count=len(active) - SHOWN))
                text = "\n".join(lines)
            embed = discord.Embed(title=say("Queue ({count})", count=len(active)), description=text)
            stats = await self._controls.stats()
            if stats.paused:
                embed.set_footer(text=say("Paused by an admin: new videos are not being started."))
            await ack.respond(embed=embed, ephemeral=True)

    @app_commands.command(name="cancel", description=locale_str("Cancel all of your waiting and running videos"))
    async def cancel(self, interaction: discord.Interaction[Any]) -> None:
        """Cancel the caller's jobs."""
        say = speaker_for(interaction.locale).say
        async with acknowledged(interaction, self._clock, Deferral.EPHEMERAL) as ack:
            cancelled = await self._actions.cancel_mine(interaction)
            text = (
                say("Cancelled {count} video(s).", count=len(cancelled))
                if cancelled
                else say("You have no videos waiting or running.")
            )
            await ack.respond(content=text, ephemeral=True)

    @app_commands.command(name="history", description=locale_str("Your recent videos"))
    async def history(self, interaction: discord.Interaction[Any]) -> None:
        """List the caller's recently finished jobs."""
        speaker = speaker_for(interaction.locale)
        async with acknowledged(interaction, self._clock, Deferral.EPHEMERAL) as ack:
            jobs = await self._controls.history(interaction.user.id)
            text = "\n".join(history_line(info, speaker) for info in jobs) or speaker.say(
                "You have no finished videos yet."
            )
            limits, usage = await self._actions.my_quota(interaction)
            if usage.limit is not None:
                text += f"\n\n{quota_text(limits, usage, speaker)}"
            title = speaker.say("Your recent videos")
            await ack.respond(embed=discord.Embed(title=title, description=text), ephemeral=True)
