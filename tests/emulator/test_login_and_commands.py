"""A real discord.py bot logs in to the emulator, syncs commands and answers slash commands."""

from __future__ import annotations

import asyncio

import pytest

from tests.discord_emulator import DiscordEmulator
from tests.emulator.tinybot import VIDEO_BYTES, TinyBot
from tests.fixtures.discord import connected
from tests.patience import PATIENCE_S


async def test_bot_logs_in_and_sees_its_guild(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    discord_emulator.add_channel(guild, "general")
    bot = TinyBot(guild.id)
    async with connected(bot, discord_emulator):
        assert bot.user is not None
        assert bot.user.id == discord_emulator.bot_user.id
        assert [g.id for g in bot.guilds] == [guild.id]
        assert [c.name for c in bot.guilds[0].text_channels] == ["general"]


async def test_slash_command_reply_is_recorded(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild, "general")
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    async with connected(TinyBot(guild.id), discord_emulator):
        interaction = await discord_emulator.invoke_slash(alice, channel, "t echo", {"text": "hi", "times": 2})
        await interaction.wait_for_response()
    assert interaction.original is not None
    assert interaction.original.content == "hihi"


async def test_defer_then_follow_up_with_file(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild, "general")
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    async with connected(TinyBot(guild.id), discord_emulator):
        interaction = await discord_emulator.invoke_slash(alice, channel, "t render", {"prompt": "surf"})
        await discord_emulator.wait_for(lambda: interaction.original is not None and not interaction.original.loading)
    assert interaction.original is not None
    assert interaction.original.content == "done: surf"
    assert interaction.original.attachments[0].data == VIDEO_BYTES


async def test_commands_are_synced_per_guild_and_globally(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    async with connected(TinyBot(guild.id), discord_emulator):
        pass
    assert [c["name"] for c in discord_emulator.commands(guild)] == ["t"]
    assert [c["name"] for c in discord_emulator.commands()] == ["ping"]
    assert {o["name"] for o in discord_emulator.commands(guild)[0]["options"]} >= {"echo", "render", "post"}


async def test_global_command_is_invocable_in_a_guild(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild)
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    async with connected(TinyBot(guild.id), discord_emulator):
        interaction = await discord_emulator.invoke_slash(alice, channel, "ping")
        await interaction.wait_for_response()
    assert interaction.original is not None
    assert interaction.original.ephemeral
    assert interaction.original.content == "pong"


async def test_ephemeral_defer_keeps_the_follow_up_ephemeral(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild)
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    async with connected(TinyBot(guild.id), discord_emulator):
        interaction = await discord_emulator.invoke_slash(
            alice, channel, "t render", {"prompt": "quiet", "ephemeral": True}
        )
        message = await discord_emulator.wait_for_message(channel.id, lambda m: m.content == "done: quiet")
    assert message is interaction.original
    assert message.ephemeral
    assert interaction.followups == []


async def test_channel_message_is_visible_in_the_channel(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild)
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    async with connected(TinyBot(guild.id), discord_emulator):
        interaction = await discord_emulator.invoke_slash(alice, channel, "t post", {"text": "hello all"})
        await interaction.wait_for_response()
    contents = [(m.content, m.ephemeral) for m in discord_emulator.messages(channel)]
    assert contents == [("hello all", False), ("posted", True)]


async def test_slash_options_must_match_the_synced_command(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    channel = discord_emulator.add_channel(guild)
    alice = discord_emulator.add_user("alice")
    discord_emulator.add_member(guild, alice)
    async with connected(TinyBot(guild.id), discord_emulator):
        with pytest.raises(ValueError, match="takes an integer"):
            await discord_emulator.invoke_slash(alice, channel, "t echo", {"text": "x", "times": "2"})


async def test_guild_added_after_login_arrives_as_guild_create(discord_emulator: DiscordEmulator) -> None:
    home = discord_emulator.add_guild("home")
    bot = TinyBot(home.id)
    async with connected(bot, discord_emulator):
        joined = asyncio.create_task(bot.wait_for("guild_join", timeout=PATIENCE_S))
        later = discord_emulator.add_guild("later")
        guild = await joined
    assert guild.id == later.id


async def test_channel_added_after_login_arrives_as_channel_create(discord_emulator: DiscordEmulator) -> None:
    home = discord_emulator.add_guild("home")
    bot = TinyBot(home.id)
    async with connected(bot, discord_emulator):
        created = asyncio.create_task(bot.wait_for("guild_channel_create", timeout=PATIENCE_S))
        channel = discord_emulator.add_channel(home, "late")
        seen = await created
    assert (seen.id, seen.name) == (channel.id, "late")
