"""Discord's rules: the 3-second first response, 15-minute tokens, attachment size limits."""

from __future__ import annotations

import io

import discord
import pytest

from tests.discord_emulator import DiscordEmulator, ViolationKind
from tests.emulator.conftest import World
from tests.emulator.tinybot import VIDEO_BYTES, TinyBot
from tests.fixtures.discord import DiscordErrorLog, connected

FIFTEEN_MINUTES = 15 * 60


async def _echo(world: World) -> discord.Interaction:
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": "hi"})
    await interaction.wait_for_response()
    return world.bot.seen[-1]


async def test_late_first_response_gets_unknown_interaction(world: World, discord_errors: DiscordErrorLog) -> None:
    world.emulator.response_deadline = 0.2
    world.bot.work_seconds = 0.3
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": "late"})
    [logged] = await discord_errors.expect()
    assert logged.exc_info is not None
    error = logged.exc_info[1]
    assert isinstance(error, discord.app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.NotFound)
    assert error.original.code == 10062
    assert [callback.status for callback in interaction.callbacks] == [404]
    assert interaction.original is None
    world.emulator.violations.clear()  # the late answer is also reported; see the next test


async def test_late_first_response_is_a_violation(world: World, discord_errors: DiscordErrorLog) -> None:
    world.emulator.response_deadline = 0.2
    world.bot.work_seconds = 0.3
    await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": "late"})
    await discord_errors.expect()
    assert [v.kind for v in world.emulator.violations] == [ViolationKind.RULE]
    assert "deadline" in world.emulator.violations[0].detail
    world.emulator.violations.clear()


async def test_response_deadline_can_be_disabled(world: World) -> None:
    world.emulator.response_deadline = None
    world.emulator.clock.advance(60)
    world.bot.work_seconds = 0.0
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": "ok"})
    world.emulator.clock.advance(60)
    await interaction.wait_for_response()
    assert interaction.original is not None


async def test_expired_token_cannot_edit_the_original(world: World) -> None:
    client_side = await _echo(world)
    world.emulator.expire_interaction(world.emulator.interactions[-1])
    with pytest.raises(discord.HTTPException) as refused:
        await client_side.edit_original_response(content="too late")
    assert (refused.value.status, refused.value.code) == (401, 50027)


async def test_token_expires_after_fifteen_minutes_on_the_clock(world: World) -> None:
    client_side = await _echo(world)
    world.emulator.clock.advance(FIFTEEN_MINUTES - 1)
    await client_side.followup.send("still fine")
    world.emulator.clock.advance(2)
    with pytest.raises(discord.HTTPException) as refused:
        await client_side.followup.send("too late")
    assert refused.value.code == 50027


async def test_interaction_reports_the_guild_upload_limit(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("small", attachment_size_limit=1024)
    channel = discord_emulator.add_channel(guild)
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    bot = TinyBot(guild.id)
    async with connected(bot, discord_emulator):
        await (await discord_emulator.invoke_slash(alice, channel, "t echo", {"text": "x"})).wait_for_response()
        assert bot.seen[-1].filesize_limit == 1024


async def test_follow_up_over_the_upload_limit_is_refused(
    discord_emulator: DiscordEmulator, discord_errors: DiscordErrorLog
) -> None:
    guild = discord_emulator.add_guild("small", attachment_size_limit=len(VIDEO_BYTES) - 1)
    channel = discord_emulator.add_channel(guild)
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    async with connected(TinyBot(guild.id), discord_emulator):
        interaction = await discord_emulator.invoke_slash(alice, channel, "t render", {"prompt": "big"})
        [logged] = await discord_errors.expect()
    assert logged.exc_info is not None
    error = logged.exc_info[1]
    assert isinstance(error, discord.app_commands.CommandInvokeError)
    assert isinstance(error.original, discord.HTTPException)
    assert (error.original.status, error.original.code) == (413, 40005)
    assert interaction.original is not None
    assert interaction.original.loading


async def test_channel_upload_over_the_guild_limit_is_refused(world: World) -> None:
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    oversized = discord.File(io.BytesIO(b"\0" * (world.guild.attachment_size_limit + 1)), filename="big.mp4")
    with pytest.raises(discord.HTTPException) as refused:
        await channel.send(file=oversized)
    assert (refused.value.status, refused.value.code) == (413, 40005)
    assert world.emulator.messages(world.channel) == []
