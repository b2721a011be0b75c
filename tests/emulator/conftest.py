"""A guild with a channel and a member, and TinyBot connected to the emulator, for the emulator proofs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.discord_emulator import Channel, DiscordEmulator, Guild, User
from tests.emulator.tinybot import TinyBot
from tests.fixtures.discord import connected


@dataclass(frozen=True)
class World:
    """The emulator, its guild and channel, a member called alice, and the running bot."""

    emulator: DiscordEmulator
    guild: Guild
    channel: Channel
    alice: User
    bot: TinyBot


@pytest.fixture
async def world(discord_emulator: DiscordEmulator) -> AsyncIterator[World]:
    """TinyBot logged in to a guild with #general and alice."""
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild, "general")
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    bot = TinyBot(guild.id)
    async with connected(bot, discord_emulator):
        yield World(discord_emulator, guild, channel, alice, bot)
