"""What the operator grants and what members see: the README's invite asks for exactly the permissions
the bot checks (threads included), and /videoadmin is registered hidden from members who cannot use it."""

from __future__ import annotations

from pathlib import Path

import discord

from bot.discord_io.permissions import INVITE_PERMISSIONS, invite_url
from tests.fixtures.bot import StartBot, ephemeral_reply, finished

ROOT = Path(__file__).resolve().parents[2]
SEND_MESSAGES_IN_THREADS = discord.Permissions(send_messages_in_threads=True).value
GUILD_CONTEXT = 0
# The permissions the bot is invited with, as Discord's invite screen and the README name them.
SHOWN_AS = {
    "view_channel": "View Channels",
    "send_messages": "Send Messages",
    "send_messages_in_threads": "Send Messages in Threads",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
    "read_message_history": "Read Message History",
}


def test_the_readme_gives_the_permissions_integer_and_an_invite_url_for_them() -> None:
    readme = (ROOT / "README.md").read_text()
    template = invite_url(1234).replace("1234", "APPLICATION_ID")

    assert discord.Permissions(**dict.fromkeys(SHOWN_AS, True)) == INVITE_PERMISSIONS
    assert f"`{INVITE_PERMISSIONS.value}`" in readme
    assert template in readme
    for name in SHOWN_AS.values():
        assert f"**{name}**" in readme


async def test_videoadmin_is_hidden_from_members_without_manage_server_and_not_offered_in_dms(
    start_bot: StartBot,
) -> None:
    running = await start_bot()

    commands = {command["name"]: command for command in running.emulator.commands(running.guild)}

    assert commands["videoadmin"]["default_member_permissions"] == str(discord.Permissions(manage_guild=True).value)
    assert commands["videoadmin"]["contexts"] == [GUILD_CONTEXT]
    assert commands["video"].get("default_member_permissions") is None


async def test_video_in_a_thread_where_the_bot_may_not_post_is_refused_naming_the_permission(
    start_bot: StartBot,
) -> None:
    running = await start_bot()
    every_permission_but_threads = running.channel.app_permissions & ~SEND_MESSAGES_IN_THREADS
    thread = running.emulator.add_thread(
        running.channel, "surf clips", owner=running.alice, bot_permissions=every_permission_but_threads
    )

    interaction = await running.emulator.invoke_slash(running.alice, thread, "video", {"prompt": "a wave"})

    assert await ephemeral_reply(interaction) == (
        "I can't post videos here: I'm missing the Send Messages In Threads permission in this channel. "
        "Ask a server admin to grant it, or use another channel."
    )


async def test_video_in_a_thread_where_the_bot_may_post_is_delivered_there(start_bot: StartBot) -> None:
    running = await start_bot()
    thread = running.emulator.add_thread(running.channel, "surf clips", owner=running.alice)

    interaction = await running.emulator.invoke_slash(running.alice, thread, "video", {"prompt": "a wave"})

    message = await finished(running.emulator, interaction)
    assert message.channel_id == thread.id
