"""`/quota`: how many videos a member has made today here, how many are left, and when that changes."""

from __future__ import annotations

import math
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_io import render
from bot.discord_io.acknowledgement import Deferral, acknowledged
from bot.intake.actions import JobActions
from bot.moderation.limits import MemberLimits
from generation.clock import Clock
from generation.queue.allowance import QuotaUsage


def quota_text(limits: MemberLimits, usage: QuotaUsage) -> str:
    """A member's quota as `/quota` and `/history` show it: used, left, and when it next changes."""
    if usage.limit is None:
        return "You have no daily limit here."
    text = f"Videos today: **{usage.used}** of **{usage.limit}** used, **{usage.left}** left."
    if usage.limit == 0:
        return text
    if usage.resets_at is not None:
        at = math.ceil(usage.resets_at)
        when = f"{render.relative_time(at)} (at {render.clock_time(at)})"
        if usage.left == 0:
            text += f"\nYour next video is possible {when}."
        elif limits.quota_reset_hour is None:
            text += f"\nOne more frees up {when}."
        else:
            text += f"\nYour quota starts afresh {when}."
    return text


def window_text(limits: MemberLimits) -> str:
    """How the quota's day is counted, and what counts."""
    if limits.quota_reset_hour is None:
        day = "Each video counts for 24 hours from when you asked for it"
    else:
        day = f"The day starts at {limits.quota_reset_hour:02d}:00 UTC"
    return f"{day}; videos that failed or were cancelled don't count."


class QuotaCog(commands.Cog):
    """A member's own daily quota."""

    def __init__(self, actions: JobActions, clock: Clock) -> None:
        self._actions = actions
        self._clock = clock

    @app_commands.command(name="quota", description="How many videos you can still make today")
    async def quota(self, interaction: discord.Interaction[Any]) -> None:
        """Show the caller's quota here: used, left, and when it resets."""
        async with acknowledged(interaction, self._clock, Deferral.EPHEMERAL) as ack:
            limits, usage = await self._actions.my_quota(interaction)
            embed = discord.Embed(title="Your daily videos", description=quota_text(limits, usage))
            if usage.limit is not None:
                embed.set_footer(text=window_text(limits))
            await ack.respond(embed=embed, ephemeral=True)
