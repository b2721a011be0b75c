"""The channel permissions the bot asks for when invited, and those it checks before queuing a video.

The README's invite URL and permissions integer are these (a test holds them equal).
"""

from __future__ import annotations

from typing import Final

import discord

#: Asked for at invitation: see and answer in channels and threads, embed the settings, attach the
#: MP4, and read back its own status message after a restart.
INVITE_PERMISSIONS: Final = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)
INVITE_SCOPES: Final = ("bot", "applications.commands")

_CHANNEL_NEEDS: Final = discord.Permissions(send_messages=True, attach_files=True, embed_links=True)
# In a thread Discord checks Send Messages in Threads instead of Send Messages.
_THREAD_NEEDS: Final = discord.Permissions(send_messages_in_threads=True, attach_files=True, embed_links=True)


def invite_url(application_id: int) -> str:
    """The URL that invites the bot with its scopes and `INVITE_PERMISSIONS`."""
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)


def needed_permissions(channel: object) -> discord.Permissions:
    """What delivering a video in `channel` (an interaction's channel) takes: a thread needs its own."""
    return _THREAD_NEEDS if isinstance(channel, discord.Thread) else _CHANNEL_NEEDS
