"""A guild with a channel and a member, and TinyBot connected to the emulator, for the emulator proofs.

`world` runs on real time. `paced_world` is the same on an emulator whose rate-limit windows and
heartbeat check run on `pacing`, a `FakeClock` the test moves: a test of those rules decides when a
window ends or a heartbeat is overdue instead of waiting and hoping.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.discord_emulator import Channel, DiscordEmulator, Guild, User
from tests.emulator.tinybot import TinyBot
from tests.fakes.clock import FakeClock
from tests.fixtures.discord import DiscordErrorLog, connected, started_emulator


@dataclass(frozen=True)
class World:
    """The emulator, its guild and channel, a member called alice, and the running bot."""

    emulator: DiscordEmulator
    guild: Guild
    channel: Channel
    alice: User
    bot: TinyBot


@contextlib.asynccontextmanager
async def populated(emulator: DiscordEmulator) -> AsyncIterator[World]:
    """TinyBot logged in to a guild of `emulator` with #general and alice."""
    guild = emulator.add_guild("home")
    channel = emulator.add_channel(guild, "general")
    alice = emulator.add_user("alice")
    emulator.add_member(guild, alice)
    bot = TinyBot(guild.id)
    async with connected(bot, emulator):
        yield World(emulator, guild, channel, alice, bot)


@pytest.fixture
async def world(discord_emulator: DiscordEmulator) -> AsyncIterator[World]:
    """TinyBot logged in to a guild with #general and alice."""
    async with populated(discord_emulator) as world:
        yield world


@pytest.fixture
def pacing() -> FakeClock:
    """The paced emulator's time for rate-limit windows and the heartbeat; it moves when the test says."""
    return FakeClock()


@pytest.fixture
async def paced_emulator(pacing: FakeClock, discord_errors: DiscordErrorLog) -> AsyncIterator[DiscordEmulator]:
    """A started emulator paced by `pacing`; as with `discord_emulator`, violations fail the test."""
    async with started_emulator(discord_errors, pacing=pacing) as emulator:
        yield emulator


@pytest.fixture
async def paced_world(paced_emulator: DiscordEmulator) -> AsyncIterator[World]:
    """TinyBot logged in to the paced emulator."""
    async with populated(paced_emulator) as world:
        yield world
