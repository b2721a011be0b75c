"""Channel permissions as the bot sees and meets them, who a message pings, and DMs."""

from __future__ import annotations

import discord
import pytest

from tests.discord_emulator import DiscordEmulator
from tests.emulator.conftest import World
from tests.emulator.tinybot import TinyBot
from tests.fixtures.discord import connected

VIEW, SEND = 1 << 10, 1 << 11


async def test_app_permissions_reflect_the_channel(world: World) -> None:
    narrow = world.emulator.add_channel(world.guild, "read-only", bot_permissions=VIEW)
    interaction = await world.emulator.invoke_slash(world.alice, narrow, "t echo", {"text": "hi"})
    await interaction.wait_for_response()
    permissions = world.bot.seen[-1].app_permissions
    assert permissions.view_channel
    assert not permissions.send_messages


async def test_sending_without_permission_is_forbidden(world: World) -> None:
    narrow = world.emulator.add_channel(world.guild, "read-only", bot_permissions=VIEW)
    channel = await world.bot.fetch_channel(narrow.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as refused:
        await channel.send("hello?")
    assert refused.value.code == 50013


async def test_member_permissions_come_from_roles(world: World) -> None:
    mods = world.emulator.add_role(world.guild, "Mods", permissions=1 << 3)
    bob = world.emulator.add_user("bob")
    world.emulator.add_member(world.guild, bob, roles=[mods])
    interaction = await world.emulator.invoke_slash(bob, world.channel, "t echo", {"text": "hi"})
    await interaction.wait_for_response()
    member = world.bot.seen[-1].user
    assert isinstance(member, discord.Member)
    assert member.resolved_permissions is not None
    assert member.resolved_permissions.administrator
    assert [role.name for role in member.roles] == ["@everyone", "Mods"]


async def test_everyone_without_allowed_mentions_pings_everyone(world: World) -> None:
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("@everyone look")
    [message] = world.emulator.messages(world.channel)
    assert world.emulator.pings(message).everyone


async def test_allowed_mentions_none_pings_nobody(world: World) -> None:
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send(f"@everyone <@{world.alice.id}> look", allowed_mentions=discord.AllowedMentions.none())
    [message] = world.emulator.messages(world.channel)
    assert not world.emulator.pings(message).anyone


async def test_allowed_user_is_the_only_one_pinged(world: World) -> None:
    bob = world.emulator.add_user("bob")
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    only_alice = discord.AllowedMentions(everyone=False, users=[discord.Object(world.alice.id)], roles=False)
    await channel.send(f"@here <@{world.alice.id}> <@{bob.id}>", allowed_mentions=only_alice)
    [message] = world.emulator.messages(world.channel)
    assert world.emulator.pings(message).users == frozenset({world.alice.id})
    assert not world.emulator.pings(message).everyone


async def test_global_command_works_in_a_dm(discord_emulator: DiscordEmulator) -> None:
    guild = discord_emulator.add_guild("home")
    alice = discord_emulator.add_user("alice")
    dm = discord_emulator.add_dm_channel(alice)
    bot = TinyBot(guild.id)
    async with connected(bot, discord_emulator):
        interaction = await discord_emulator.invoke_slash(alice, dm, "ping")
        await interaction.wait_for_response()
    assert interaction.original is not None
    assert interaction.original.content == "pong"
