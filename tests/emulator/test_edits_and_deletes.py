"""Editing and deleting interaction responses, follow-ups and channel messages."""

from __future__ import annotations

import asyncio
import io

import discord

from tests.emulator.conftest import World
from tests.patience import PATIENCE_S


def _file(name: str, data: bytes) -> discord.File:
    return discord.File(io.BytesIO(data), filename=name)


async def _echo(world: World, text: str) -> discord.Interaction:
    interaction = await world.emulator.invoke_slash(world.alice, world.channel, "t echo", {"text": text})
    await interaction.wait_for_response()
    return world.bot.seen[-1]


async def test_editing_the_original_records_the_edit(world: World) -> None:
    client_side = await _echo(world, "v1")
    await client_side.edit_original_response(content="v2")
    original = world.emulator.interactions[-1].original
    assert original is not None
    assert original.content == "v2"
    assert [edit.content for edit in original.edits] == ["v2"]


async def test_edit_can_add_a_file_and_keep_or_drop_old_ones(world: World) -> None:
    client_side = await _echo(world, "v1")
    first = await client_side.edit_original_response(attachments=[_file("a.mp4", b"aaa")])
    await client_side.edit_original_response(attachments=[first.attachments[0], _file("b.png", b"bb")])
    original = world.emulator.interactions[-1].original
    assert original is not None
    assert [(a.filename, a.data) for a in original.attachments] == [("a.mp4", b"aaa"), ("b.png", b"bb")]
    assert original.attachments[1].content_type == "image/png"
    await client_side.edit_original_response(attachments=[])
    assert original.attachments == []


async def test_deleting_the_original_hides_it(world: World) -> None:
    client_side = await _echo(world, "bye")
    await client_side.delete_original_response()
    original = world.emulator.interactions[-1].original
    assert original is not None
    assert original.deleted
    assert world.emulator.messages(world.channel) == []


async def test_follow_up_can_be_edited_and_deleted(world: World) -> None:
    client_side = await _echo(world, "first")
    follow_up = await client_side.followup.send("second", wait=True)
    await follow_up.edit(content="second, edited")
    record = world.emulator.interactions[-1].followups[0]
    assert record.content == "second, edited"
    await follow_up.delete()
    assert record.deleted


async def test_channel_message_can_be_edited_and_deleted(world: World) -> None:
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("draft", file=_file("clip.mp4", b"\x00\x01"))
    await sent.edit(content="final")
    record = world.emulator.messages(world.channel)[0]
    assert (record.content, record.attachments[0].data) == ("final", b"\x00\x01")
    await sent.delete()
    assert world.emulator.messages(world.channel) == []


async def test_bot_sees_its_own_channel_message_on_the_gateway(world: World) -> None:
    channel = world.bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    # Listen first: the MESSAGE_CREATE may arrive before send() returns, as on real Discord.
    arrival = asyncio.create_task(world.bot.wait_for("message", timeout=PATIENCE_S))
    sent = await channel.send("hello")
    message = await arrival
    assert message.id == sent.id
