"""`/quota`: how many videos a member has made today here, how many are left, and when that changes."""

from __future__ import annotations

import math
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_io import render
from bot.discord_io.acknowledgement import Deferral, acknowledged
from bot.i18n import ENGLISH, Speaker, speaker_for
from bot.intake.actions import JobActions
from bot.moderation.limits import MemberLimits
from generation.clock import Clock
from generation.queue.allowance import QuotaUsage


def quota_text(limits: MemberLimits, usage: QuotaUsage, speaker: Speaker = ENGLISH) -> str:
    """A member's quota as `/quota` and `/history` show it: used, left, and when it next changes."""
    say = speaker.say
    if usage.limit is None:
        return say("You have no daily limit here.")
    text = say(
        "Videos today: **{used}** of **{limit}** used, **{left}** left.",
        used=usage.used,
        limit=usage.limit,
        left=usage.left,
    )
    if usage.limit == 0:
        return text
    if usage.resets_at is not None:
        at = math.ceil(usage.resets_at)
        when, time = render.relative_time(at), render.clock_time(at)
        if usage.left == 0:
            text += "\n" + say("Your next video is possible {when} (at {time}).", when=when, time=time)
        elif limits.quota_reset_hour is None:
            text += "\n" + say("One more frees up {when} (at {time}).", when=when, time=time)
        else:
            text += "\n" + say("Your quota starts afresh {when} (at {time}).", when=when, time=time)
    return text


def window_text(limits: MemberLimits, speaker: Speaker = ENGLISH) -> str:
    """How the quota's day is counted, and what counts."""
    if limits.quota_reset_hour is None:
        return speaker.say(
            "Each video counts for 24 hours from when you asked for it; "
            "videos that failed or were cancelled don't count."
        )
    return speaker.say(
        "The day starts at {hour}:00 UTC; videos that failed or were cancelled don't count.",
        hour=f"{limits.quota_reset_hour:02d}",
    )


class QuotaCog(commands.Cog):
    """A member's own daily quota."""

    def __init__(self, actions: JobActions, clock: Clock) -> None:
        self._actions = actions
        self._clock = clock

    @app_commands.command(name="quota", description=app_commands.locale_str("How many videos you can still make today"))
    async def quota(self, interaction: discord.Interaction[Any]) -> None:
        """Show the caller's quota here: used, left, and when it resets."""
        async with acknowledged(interaction, self._clock, Deferral.EPHEMERAL) as ack:
            limits, usage = await self._actions.my_quota(interaction)
            speaker = speaker_for(interaction.locale)
            embed = discord.Embed(
                title=speaker.say("Your daily videos"), description=quota_text(limits, usage, speaker)
            )
            if usage.limit is not None:
                embed.set_footer(text=window_text(limits, speaker))
            await ack.respond(embed=embed, ephemeral=True)
