"""The channel permissions the bot asks for when invited.

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


def invite_url(application_id: int) -> str:
    """The URL that invites the bot with its scopes and `INVITE_PERMISSIONS`."""
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)
